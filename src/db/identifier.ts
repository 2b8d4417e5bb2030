import { ValidationError } from '../errors.js';

import { ID_LEN } from './migrations/column-types.js';

/** Airflow's KEY_REGEX: the names users give to connections, variables and pools. */
const IDENTIFIER_FORM = /^[A-Za-z0-9_.-]+$/;

/**
 * Return `value` if it is a valid identifier, or throw a ValidationError naming `what` it is.
 * `maxLength` is the column's: a longer value would otherwise reach the database and come back
 * as its own error (MySQL and PostgreSQL refuse it; SQLite would store it).
 */
export function assertIdentifier(what: string, value: string, maxLength: number = ID_LEN): string {
  if (!IDENTIFIER_FORM.test(value) || value.length > maxLength) {
    throw new ValidationError(
      `Invalid ${what} '${value}': use 1 to ${maxLength} letters, digits or the characters _ . -.`,
    );
  }
  return value;
}
