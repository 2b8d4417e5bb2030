import { SHORT_TEXT_LEN } from '../db/migrations/column-types.js';
import { ValidationError } from '../errors.js';

/**
 * Input rules for user records; failures are ValidationErrors naming the field and the accepted
 * form. Usernames and emails are unique-indexed columns of SHORT_TEXT_LEN characters.
 */
const USERNAME = /^[A-Za-z0-9_.@+-]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function validateUsername(username: string): string {
  if (!USERNAME.test(username) || username.length > SHORT_TEXT_LEN) {
    throw new ValidationError(
      `Invalid username '${username}': use 1 to ${SHORT_TEXT_LEN} letters, digits or the characters _ . @ + -.`,
    );
  }
  return username;
}

export function validateEmail(email: string): string {
  if (!EMAIL.test(email) || email.length > SHORT_TEXT_LEN) {
    throw new ValidationError(
      `Invalid email '${email}': expected an address such as name@example.com (at most ${SHORT_TEXT_LEN} characters).`,
    );
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
