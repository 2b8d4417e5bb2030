/**
 * Typed errors. Every failure a user can cause or meet has a class here; the CLI turns them into
 * exit codes (cli/exit-codes.ts) and the webserver into HTTP statuses (web/http-errors.ts), each in
 * one place.
 */
export abstract class UpdraftError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type ErrorKind =
  | 'usage'
  | 'config'
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'unauthenticated'
  | 'forbidden'
  | 'rate_limited'
  | 'database'
  | 'dag_import'
  | 'timeout'
  | 'remote'
  | 'internal';

/** The command line itself is wrong (unknown flag, missing argument). */
export class UsageError extends UpdraftError {
  readonly kind = 'usage';
}

/** airflow.cfg or an AIRFLOW__* variable holds something we cannot accept. */
export class ConfigError extends UpdraftError {
  readonly kind = 'config';
  constructor(
    message: string,
    readonly section?: string,
    readonly key?: string,
  ) {
    super(message);
  }
}

/** Input data is malformed: a bad cron string, JSON conf that does not parse, a weak password. */
export class ValidationError extends UpdraftError {
  readonly kind = 'validation';
}

export class NotFoundError extends UpdraftError {
  readonly kind = 'not_found';
}

/** The thing already exists or the state does not allow the change. */
export class ConflictError extends UpdraftError {
  readonly kind = 'conflict';
}

export class AuthenticationError extends UpdraftError {
  readonly kind = 'unauthenticated';
}

export class PermissionDeniedError extends UpdraftError {
  readonly kind = 'forbidden';
}

/** Too many attempts in too short a time (sign-ins); try again later. */
export class TooManyRequestsError extends UpdraftError {
  readonly kind = 'rate_limited';
}

/** The metadata database cannot be reached or is not migrated. */
export class DatabaseError extends UpdraftError {
  readonly kind = 'database';
}

/** A DAG file failed to load (syntax error, exception, timeout). */
export class DagImportError extends UpdraftError {
  readonly kind = 'dag_import';
}

export class TimeoutError extends UpdraftError {
  readonly kind = 'timeout';
}

/** A remote host or cloud API refused or failed (SSH, EC2). */
export class RemoteError extends UpdraftError {
  readonly kind = 'remote';
}

/** An SSH host presented a key other than the one recorded on first use: a hard stop. */
export class HostKeyMismatchError extends RemoteError {}

/** A command on a provisioned host exited non-zero. */
export class RemoteCommandError extends RemoteError {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export function isUpdraftError(error: unknown): error is UpdraftError {
  return error instanceof UpdraftError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
