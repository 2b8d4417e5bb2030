import type { Kysely, Transaction } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Errors that say "try again": the server gave up on this statement or transaction to resolve a lock
 * conflict, and nothing of it was kept. MySQL/MariaDB ER_LOCK_DEADLOCK (1213) and
 * ER_LOCK_WAIT_TIMEOUT (1205); PostgreSQL deadlock_detected (40P01) and serialization_failure
 * (40001); SQLite SQLITE_BUSY (and its extended codes) once busy_timeout has run out.
 */
export function isTransientDbError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (errno === 1213 || errno === 1205) return true;
  if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return true;
  if (code === '40P01' || code === '40001') return true;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Base delay; each retry waits base × 2^n plus jitter, so two colliding writers drift apart. */
  baseDelayMs?: number;
}

/** Run `work` again while it fails with a transient lock error (see isTransientDbError). */
export async function retryTransient<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isTransientDbError(error)) throw error;
      await sleep(base * 2 ** (attempt - 1) + Math.random() * base);
    }
  }
}

/**
 * A transaction that is run again from the start when the server aborts it for a deadlock or lock
 * timeout. `work` must only touch the database: on a retry, everything it did in the failed attempt
 * has been rolled back.
 */
export function transactionWithRetry<DB, T>(
  db: Kysely<DB>,
  work: (trx: Transaction<DB>) => Promise<T>,
  options?: RetryOptions,
): Promise<T> {
  return retryTransient(() => db.transaction().execute(work), options);
}
