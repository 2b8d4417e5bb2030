import type { ErrorKind } from '../errors.js';

/** The one place where errors become exit codes. Scripts may rely on these numbers. */
export const EXIT_CODES: Record<ErrorKind, number> = {
  internal: 1,
  usage: 2,
  config: 3,
  validation: 4,
  not_found: 5,
  conflict: 6,
  unauthenticated: 7,
  forbidden: 8,
  database: 10,
  dag_import: 11,
  timeout: 12,
  remote: 13,
  rate_limited: 14,
};
