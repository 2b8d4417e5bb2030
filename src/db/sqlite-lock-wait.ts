import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * How an SQLite connection waits for the one write lock that the scheduler, every task runner and
 * the webserver share.
 *
 * SQLite's own busy handler (busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25 … ms between attempts:
 * with nine processes committing a few hundred small transactions a second, a writer that misses
 * the lock twice sleeps 8 ms for a lock that is held for a tenth of that, and a fan-out spends
 * most of its time asleep. Here the connection's busy_timeout is 0 and the wait is ours: short
 * sleeps that grow from 50 µs to at most 1 ms, until `timeoutMs` has passed.
 *
 * Only what can be retried as a whole is retried: a statement outside a transaction (SQLite rolled
 * it back), `BEGIN` and `COMMIT` (SQLite documents both as safe to repeat after SQLITE_BUSY).
 * Kysely's `begin` becomes `begin immediate`, so a transaction takes the write lock at its start
 * and no statement inside it can meet SQLITE_BUSY (in WAL mode readers never block a writer).
 */
interface RawStatement extends SqliteStatement {
  readonly reader: boolean;
}
interface RawDatabase {
  close(): unknown;
  prepare(sql: string): SqliteStatement;
  readonly inTransaction: boolean;
}

export interface LockWaitOptions {
  /** Give up (throw the SQLITE_BUSY error) after this long; like busy_timeout. */
  timeoutMs: number;
}

const FIRST_SLEEP_MS = 0.05;
const MAX_SLEEP_MS = 1;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Block this thread for `ms` (fractions allowed); SQLite's busy handler blocks it the same way. */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** `db` must have busy_timeout 0 (the caller sets it once the connection is configured). */
export function withLockWait(db: RawDatabase, options: LockWaitOptions): SqliteDatabase {
  const retrying = <T>(sql: string, run: () => T): T => {
    let deadline = 0;
    let sleep = FIRST_SLEEP_MS;
    for (;;) {
      const repeatable = !db.inTransaction || sql === 'commit';
      try {
        return run();
      } catch (error) {
        if (!repeatable || !isBusy(error)) throw error;
        const now = performance.now();
        if (deadline === 0) deadline = now + options.timeoutMs;
        else if (now >= deadline) throw error;
        sleepSync(Math.min(sleep, deadline - now));
        sleep = Math.min(MAX_SLEEP_MS, sleep * 2);
      }
    }
  };
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      const text = sql === 'begin' ? 'begin immediate' : sql;
      const statement = db.prepare(text) as RawStatement;
      return {
        reader: statement.reader,
        all: (parameters) => retrying(text, () => statement.all(parameters)),
        run: (parameters) => retrying(text, () => statement.run(parameters)),
        // A cursor is read-only and WAL readers are never blocked: nothing to wait for.
        iterate: (parameters) => statement.iterate(parameters),
      };
    },
  };
}
