import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { CompiledQuery, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, type Dialect } from 'kysely';
import { DatabaseError } from '../errors.js';
import { parseConnectionUrl, redactUrl, type ConnectionTarget, type DialectName } from './connection-url.js';
import { withTransientRetry } from './retrying-dialect.js';
import { withLockWait } from './sqlite-lock-wait.js';
import { withStatementCache } from './sqlite-statement-cache.js';
import type { Database } from './tables.js';

/**
 * The metadata store: one Kysely instance over the three adapters (SQLite, MySQL/MariaDB,
 * PostgreSQL) plus what callers need to know about the server's abilities. Nothing outside
 * src/db chooses SQL by dialect; it asks `capabilities`.
 */
export interface MetadataDb {
  readonly kysely: Kysely<Database>;
  /**
   * MySQL only (null elsewhere): a separate one-connection pool on which one query may carry
   * several statements (mysql2 `multipleStatements`), for the hot paths that send a fixed batch
   * of Kysely-built statements in one request (a try's claim, the scheduler's queue step). Each
   * round trip costs both processes CPU and, on a busy host, a wait for the CPU on both sides.
   * The main pool never takes multi-statement queries: only code that builds a batch on purpose
   * can send one, so the option cannot widen the reach of an injection elsewhere.
   */
  readonly batches: Kysely<Database> | null;
  readonly dialect: DialectName;
  readonly capabilities: Capabilities;
  close(): Promise<void>;
}

export interface Capabilities {
  /** Server product and version, e.g. "MariaDB 10.11.19", "MySQL 5.7.44", "PostgreSQL 15.2", "SQLite 3.45". */
  readonly serverVersion: string;
  /** `SELECT … FOR UPDATE SKIP LOCKED` works: PostgreSQL, MySQL 8+, MariaDB 10.6+. */
  readonly skipLocked: boolean;
  /** More than one scheduler may run against this database at once. */
  readonly multipleSchedulers: boolean;
}

/** How long an SQLite writer waits for the write lock before SQLITE_BUSY reaches the caller. */
const SQLITE_LOCK_TIMEOUT_MS = 10_000;

export interface OpenOptions {
  poolSize?: number;
  /** Folder against which a relative sqlite path resolves (AIRFLOW_HOME). */
  baseDir?: string;
  /**
   * [database] max_db_retries: times a new connection is tried again while the server is
   * unreachable (see retrying-dialect.ts). 0 (the default here): the first failure is reported.
   */
  maxRetries?: number;
}

export async function openMetadataDb(url: string, options: OpenOptions = {}): Promise<MetadataDb> {
  const target = parseConnectionUrl(url, options.baseDir);
  const dialect = await createDialect(target, options.poolSize ?? 5, false);
  // Deadlocks and lock timeouts on single statements, and connections refused while the server is
  // away, are retried under every caller.
  const kysely = new Kysely<Database>({
    dialect: withTransientRetry(dialect, { maxConnectRetries: options.maxRetries ?? 0 }),
  });
  let serverVersion: string;
  try {
    serverVersion = await probeVersion(kysely, target.dialect);
  } catch (error) {
    await kysely.destroy().catch(() => undefined);
    throw new DatabaseError(
      `Cannot connect to the metadata database ${redactUrl(url)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const skipLocked = supportsSkipLocked(target.dialect, serverVersion);
  // mysql2 pools connect on first use: a process that never sends a batch opens no connection.
  const batches =
    target.dialect === 'mysql'
      ? new Kysely<Database>({ dialect: await createDialect(target, 1, true) })
      : null;
  return {
    kysely,
    batches,
    dialect: target.dialect,
    capabilities: { serverVersion, skipLocked, multipleSchedulers: skipLocked },
    close: async () => {
      await Promise.all([kysely.destroy(), batches?.destroy()]);
    },
  };
}

async function createDialect(
  target: ConnectionTarget,
  poolSize: number,
  multipleStatements: boolean,
): Promise<Dialect> {
  if (target.dialect === 'sqlite') {
    const { default: SQLite } = await import('better-sqlite3');
    createPrivateFile(target.filename);
    const db = new SQLite(target.filename);
    // WAL lets the webserver read while the scheduler writes; busy_timeout waits out short write locks.
    // busy_timeout first: switching a fresh file to WAL needs a brief exclusive lock that another
    // process opening the same file at the same moment may hold.
    db.pragma(`busy_timeout = ${SQLITE_LOCK_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // From here on lock waits are ours (sqlite-lock-wait.ts): finer than SQLite's busy handler.
    db.pragma('busy_timeout = 0');
    const cached = withStatementCache(db);
    return new SqliteDialect({
      database: withLockWait(
        {
          prepare: (sql) => cached.prepare(sql),
          close: () => cached.close(),
          get inTransaction() {
            return db.inTransaction;
          },
        },
        { timeoutMs: SQLITE_LOCK_TIMEOUT_MS },
      ),
    });
  }
  if (target.dialect === 'mysql') {
    const { createPool } = await import('mysql2');
    return new MysqlDialect({
      pool: createPool({
        ...(target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port }),
        user: target.user,
        password: target.password,
        database: target.database,
        connectionLimit: poolSize,
        charset: 'utf8mb4_unicode_ci',
        timezone: 'Z',
        // BIGINT millisecond columns come back as numbers (they are far below 2^53).
        supportBigNumbers: true,
        bigNumberStrings: false,
        decimalNumbers: true,
        connectTimeout: 10_000,
        multipleStatements,
      }),
      // As Airflow does on MySQL: READ COMMITTED, PostgreSQL's default. Under REPEATABLE READ a
      // locking read takes gap locks, so the scheduler's `FOR UPDATE SKIP LOCKED` pick of queue
      // candidates blocked task runners moving their own rows into the neighbouring index range
      // (about a third of the tries in a MariaDB fan-out waited ~1 ms on such a lock).
      onCreateConnection: async (connection) => {
        await connection.executeQuery(
          CompiledQuery.raw('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED'),
        );
      },
    });
  }
  const pg = await import('pg');
  const types = pg.default.types;
  const pool = new pg.default.Pool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    max: poolSize,
    connectionTimeoutMillis: 10_000,
    // int8 (BIGINT, COUNT(*)) as numbers rather than strings: every value we store fits in 2^53.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === types.builtins.INT8 || oid === types.builtins.NUMERIC
          ? (v: string) => Number(v)
          : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
    },
  });
  // An idle connection the server dropped (restart, outage) is reported here; unheard, the event
  // would crash the process. The pool discards the client and the next query opens a new one.
  pool.on('error', () => undefined);
  // The pool listens only while a client is idle. A client checked out (inside a transaction,
  // between two statements) that the server terminates (57P01 on a restart) emits 'error' with no
  // query to hand it to, and unheard that crashes the process. Heard here, the client is marked
  // unusable: its next query fails as a connection error (which the outage retry handles), and
  // the pool discards it on release.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return new PostgresDialect({ pool });
}

async function probeVersion(kysely: Kysely<Database>, dialect: DialectName): Promise<string> {
  const { sql } = await import('kysely');
  if (dialect === 'sqlite') {
    const r = await sql<{ v: string }>`select sqlite_version() as v`.execute(kysely);
    return `SQLite ${r.rows[0]?.v ?? '?'}`;
  }
  if (dialect === 'mysql') {
    const r = await sql<{ v: string }>`select version() as v`.execute(kysely);
    const v = r.rows[0]?.v ?? '?';
    return v.toLowerCase().includes('mariadb') ? `MariaDB ${v.split('-')[0]}` : `MySQL ${v.split('-')[0]}`;
  }
  const r = await sql<{ v: string }>`show server_version`.execute(kysely);
  return `PostgreSQL ${String(Object.values(r.rows[0] ?? {})[0] ?? '?').split(' ')[0]}`;
}

export function supportsSkipLocked(dialect: DialectName, serverVersion: string): boolean {
  if (dialect === 'postgres') return true;
  if (dialect === 'sqlite') return false;
  const [product, version = '0'] = serverVersion.split(' ');
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (product === 'MariaDB') return major > 10 || (major === 10 && minor >= 6);
  return major >= 8;
}

/**
 * The metadata file holds hashed passwords and connection secrets: when Updraft creates it, only
 * the owner may read it (0600). An existing file keeps the mode its owner chose.
 */
function createPrivateFile(filename: string): void {
  if (filename === ':memory:' || existsSync(filename)) return;
  try {
    closeSync(openSync(filename, 'wx', 0o600));
  } catch (error) {
    // Another process created it first: theirs stands. A missing folder is reported by SQLite itself.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return;
  }
  // WAL and shared-memory side files are created by SQLite with the main file's mode.
  chmodSync(filename, 0o600);
}
