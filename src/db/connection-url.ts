import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

export type DialectName = 'sqlite' | 'mysql' | 'postgres';

export type ConnectionTarget =
  | { dialect: 'sqlite'; filename: string }
  | {
      dialect: 'mysql' | 'postgres';
      /** For PostgreSQL also a socket directory (`?host=/var/run/postgresql`). */
      host: string;
      port: number;
      /** MySQL's Unix socket (`?unix_socket=/run/mysqld/mysqld.sock`): used instead of host and port. */
      socketPath: string | null;
      user: string;
      password: string;
      database: string;
      params: Record<string, string>;
    };

const MYSQL_SCHEMES = new Set(['mysql', 'mysql+pymysql', 'mysql+mysqldb', 'mysql+mysqlconnector', 'mariadb']);
const POSTGRES_SCHEMES = new Set(['postgresql', 'postgres', 'postgresql+psycopg2', 'postgresql+psycopg']);

/**
 * Parse an Airflow `sql_alchemy_conn` URL. SQLAlchemy's spellings are accepted as users copy them:
 * `sqlite:////abs/path.db` (four slashes: absolute), `mysql+pymysql://…`, `postgresql+psycopg2://…`.
 */
export function parseConnectionUrl(url: string, baseDir = process.cwd()): ConnectionTarget {
  const trimmed = url.trim();
  const scheme = trimmed.slice(0, Math.max(0, trimmed.indexOf('://'))).toLowerCase();
  if (!scheme)
    throw invalid(url, 'a URL such as sqlite:////path/airflow.db or postgresql://user:pass@host/db');

  if (scheme === 'sqlite') {
    const rest = trimmed.slice('sqlite://'.length);
    if (rest === '' || rest === '/:memory:') return { dialect: 'sqlite', filename: ':memory:' };
    if (!rest.startsWith('/'))
      throw invalid(url, 'sqlite:///relative/path.db or sqlite:////absolute/path.db');
    // sqlite:///x.db → "x.db" (relative); sqlite:////x.db → "/x.db" (absolute).
    const path = rest.slice(1).split('?')[0]!;
    return { dialect: 'sqlite', filename: isAbsolute(path) ? path : resolve(baseDir, path) };
  }

  const dialect = MYSQL_SCHEMES.has(scheme) ? 'mysql' : POSTGRES_SCHEMES.has(scheme) ? 'postgres' : undefined;
  if (!dialect) {
    throw invalid(url, 'a sqlite://, mysql:// (mysql+pymysql://, mysql+mysqldb://) or postgresql:// URL');
  }
  let parsed: URL;
  try {
    // SQLAlchemy takes a user with no host (postgresql://user@/db?host=/var/run/postgresql); a
    // WHATWG URL does not, so such a URL gets a placeholder host, which ?host= then replaces.
    parsed = new URL(trimmed.replace(/^[^:]+:/, 'db:').replace(/^(db:\/\/[^/?#]*@)\//, '$1localhost/'));
  } catch {
    throw invalid(url, `${scheme}://USER:PASSWORD@HOST:PORT/DATABASE`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database)
    throw invalid(url, `${scheme}://USER:PASSWORD@HOST:PORT/DATABASE (the database name is missing)`);
  const params = Object.fromEntries(parsed.searchParams.entries());
  // The query parameters SQLAlchemy's drivers take for a local server's socket.
  const socketPath = dialect === 'mysql' ? params.unix_socket || null : null;
  return {
    dialect,
    host: (dialect === 'postgres' && params.host) || parsed.hostname || 'localhost',
    port: parsed.port ? Number(parsed.port) : dialect === 'mysql' ? 3306 : 5432,
    user: decodeURIComponent(parsed.username) || (dialect === 'mysql' ? 'root' : 'postgres'),
    password: decodeURIComponent(parsed.password),
    database,
    socketPath,
    params,
  };
}

/** The URL with its password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

function invalid(url: string, form: string): ConfigError {
  return new ConfigError(
    `[database] sql_alchemy_conn = ${redactUrl(url)} is not valid: expected ${form}.`,
    'database',
    'sql_alchemy_conn',
  );
}
