import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Riding out a database outage (a restart, a failover, a network blip). Writes that record an
 * outcome — a try's end, its heartbeat, its job row — must not be lost because the server was
 * away for a few seconds: they are retried with backoff, across reconnects (the drivers' pools
 * open a new connection for each attempt once the old ones are dead), for a bounded time.
 */

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
  'EAI_AGAIN',
  // mysql2
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_CON_COUNT_ERROR',
]);
// MySQL client/server errors of a lost or refused connection: CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR,
// CR_SERVER_GONE_ERROR, CR_SERVER_LOST, ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED.
const MYSQL_ERRNOS = new Set([2002, 2003, 2006, 2013, 1053, 1927]);
// PostgreSQL: class 08 (connection exception), admin_shutdown, crash_shutdown, cannot_connect_now.
const PG_CODES = /^(08...|57P01|57P02|57P03)$/;
// node-postgres reports a dropped connection with a plain Error and no code; so does mysql2 for a
// statement given to a connection that had already died (nothing was sent).
const PG_MESSAGES =
  /Connection terminated|connection error and is not queryable|Client has already been connected|timeout exceeded when trying to connect|Connection lost|Can't add new command when connection is in closed state|Can't write in closed state/i;

/** Whether the error says the server could not be reached or the connection died (not a bad statement). */
export function isConnectionLost(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  if (error instanceof AggregateError) return error.errors.some(isConnectionLost);
  const { code, errno, message, cause } = error as {
    code?: unknown;
    errno?: unknown;
    message?: unknown;
    cause?: unknown;
  };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || PG_CODES.test(code))) return true;
  if (typeof errno === 'number' && MYSQL_ERRNOS.has(errno)) return true;
  if (typeof message === 'string' && PG_MESSAGES.test(message)) return true;
  return cause !== undefined && cause !== error && isConnectionLost(cause);
}

export interface OutageRetryOptions {
  /** Keep trying this long after the first failure; then the last error is thrown. */
  budgetMs: number;
  /** First wait; each next one doubles, up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Told about each failed attempt (to log it). */
  onRetry?: (error: unknown, attempt: number) => void;
}

/**
 * Open a connection, trying again up to `retries` times while the server is unreachable
 * ([database] max_db_retries, as Airflow's retries on DB operational errors): waits of 0.5 s,
 * 1 s, 2 s … (at most 5 s), so the default 3 rides out about 3.5 s (a server restart, a failover's
 * switch, a network blip) before the caller sees the error.
 */
export async function retryConnect<T>(connect: () => Promise<T>, retries: number): Promise<T> {
  let delay = 500;
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      if (attempt >= retries || !isConnectionLost(error)) throw error;
      await sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}

/** Run `work` again while it fails because the database is unreachable, for at most budgetMs. */
export async function retryThroughOutage<T>(work: () => Promise<T>, options: OutageRetryOptions): Promise<T> {
  const started = Date.now();
  let delay = options.initialDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 2_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isConnectionLost(error) || Date.now() - started + delay > options.budgetMs) throw error;
      options.onRetry?.(error, attempt);
      // Short waits, so the write lands soon after the server is back.
      await sleep(delay);
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
