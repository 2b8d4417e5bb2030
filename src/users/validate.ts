import { ValidationError } from '../errors.js';

/** Input rules for user records; failures are ValidationErrors naming the field and the accepted form. */
const USERNAME = /^[A-Za-z0-9_.@+-]{1,250}$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function validateUsername(username: string): string {
  if (!USERNAME.test(username)) {
    throw new ValidationError(
      `Invalid username '${username}': use 1 to 250 letters, digits or the characters _ . @ + -.`,
    );
  }
  return username;
}

export function validateEmail(email: string): string {
  if (!EMAIL.test(email) || email.length > 250) {
    throw new ValidationError(`Invalid email '${email}': expected an address such as name@example.com.`);
  }
  return email;
}

export function validateName(field: 'first name' | 'last name', value: string): string {
  const trimmed = value.trim();
  if (!trimmed || trimmed.length > 256) {
    throw new ValidationError(`The ${field} is required (1 to 256 characters).`);
  }
  return trimmed;
}

export function validatePassword(password: string): string {
  if (password.length === 0) throw new ValidationError('The password must not be empty.');
  if (password.length > 1024)
    throw new ValidationError('The password is too long (at most 1024 characters).');
  return password;
}
