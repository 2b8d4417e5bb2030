import { ValidationError } from '../errors.js';

/** Airflow's KEY_REGEX: the names users give to connections, variables and pools. */
const IDENTIFIER_FORM = /^[A-Za-z0-9_.-]{1,250}$/;

/** Return `value` if it is a valid identifier, or throw a ValidationError naming `what` it is. */
export function assertIdentifier(what: string, value: string): string {
  if (!IDENTIFIER_FORM.test(value)) {
    throw new ValidationError(
      `Invalid ${what} '${value}': use 1 to 250 letters, digits or the characters _ . -.`,
    );
  }
  return value;
}
