import { ValidationError } from '../errors.js';

/** A connection's fields, as Airflow names them (extra is a JSON object text). */
export interface ConnectionFields {
  connId: string;
  connType: string;
  description?: string | null;
  host?: string | null;
  schema?: string | null;
  login?: string | null;
  password?: string | null;
  port?: number | null;
  extra?: string | null;
}

const NO_HOST = 'updraft-no-host.invalid';

/**
 * Airflow's connection URI: `conn-type://login:password@host:port/schema?extra_key=value`. The
 * scheme's dashes become underscores in conn_type (`google-cloud-platform` → google_cloud_platform)
 * and `postgresql` becomes `postgres`. Query parameters become the extra JSON, unless a single
 * `__extra__` parameter carries the JSON itself.
 */
export function parseConnectionUri(connId: string, uri: string): ConnectionFields {
  const form = 'conn-type://login:password@host:port/schema?extra_key=value';
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri.trim());
  if (!match) throw new ValidationError(`Invalid connection URI for '${connId}': expected ${form}.`);
  const scheme = match[1]!.toLowerCase();
  let rest = uri.trim().slice(match[0].length);
  // Credentials without a host (Airflow's aws://KEY:SECRET@/?region_name=…) are valid here but
  // not to URL; parse them with a placeholder host that is dropped again below.
  const noHost = /^[^/?#]*@(?=[/?#]|$)/.test(rest);
  if (noHost) rest = rest.replace(/@(?=[/?#]|$)/, `@${NO_HOST}`);
  let url: URL;
  try {
    // A fixed placeholder scheme makes URL treat every conn type alike (no special-scheme rules).
    url = new URL(`updraft-conn://${rest}`);
  } catch {
    throw new ValidationError(`Invalid connection URI for '${connId}': expected ${form}.`);
  }
  const connType = scheme === 'postgresql' ? 'postgres' : scheme.replace(/-/g, '_');
  const dec = (s: string) => (s === '' ? null : decodeURIComponent(s));
  let extra: string | null = null;
  const params = [...url.searchParams.entries()];
  const rawExtra = url.searchParams.get('__extra__');
  if (rawExtra !== null) {
    extra = validateExtra(connId, rawExtra);
  } else if (params.length > 0) {
    extra = JSON.stringify(Object.fromEntries(params));
  }
  return {
    connId,
    connType,
    host: noHost ? null : dec(url.hostname),
    login: dec(url.username),
    password: dec(url.password),
    port: url.port ? Number(url.port) : null,
    schema: dec(url.pathname.replace(/^\//, '')),
    extra,
  };
}

/** The URI form of a connection (what `connections get` prints and AIRFLOW_CONN_* accepts). */
export function connectionToUri(c: ConnectionFields): string {
  const enc = (s: string | null | undefined) => encodeURIComponent(s ?? '');
  let uri = `${c.connType.replace(/_/g, '-')}://`;
  if (c.login || c.password) uri += `${enc(c.login)}${c.password ? `:${enc(c.password)}` : ''}@`;
  uri += enc(c.host);
  if (c.port) uri += `:${c.port}`;
  if (c.schema) uri += `/${enc(c.schema)}`;
  if (c.extra) {
    const parsed = JSON.parse(c.extra) as Record<string, unknown>;
    const flat = Object.values(parsed).every((v) => typeof v === 'string');
    uri += flat
      ? `?${new URLSearchParams(parsed as Record<string, string>).toString()}`
      : `?${new URLSearchParams({ __extra__: c.extra }).toString()}`;
  }
  return uri;
}

/** Extra must be a JSON object; returns it normalized (compact). */
export function validateExtra(connId: string, extra: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(extra);
  } catch {
    throw new ValidationError(
      `The extra of connection '${connId}' is not valid JSON: expected an object like {"key": "value"}.`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError(
      `The extra of connection '${connId}' must be a JSON object like {"key": "value"}.`,
    );
  }
  return JSON.stringify(parsed);
}

/** Parse AIRFLOW_CONN_<ID>: a URI, or (Airflow 2.3+) a JSON object of the fields. */
export function parseConnectionEnvValue(connId: string, value: string): ConnectionFields {
  const text = value.trim();
  if (!text.startsWith('{')) return parseConnectionUri(connId, text);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ValidationError(
      `AIRFLOW_CONN_${connId.toUpperCase()} is neither a connection URI nor valid JSON.`,
    );
  }
  const str = (k: string) => (typeof parsed[k] === 'string' ? (parsed[k] as string) : null);
  const extra = parsed.extra;
  return {
    connId,
    connType: str('conn_type') ?? '',
    description: str('description'),
    host: str('host'),
    schema: str('schema'),
    login: str('login'),
    password: str('password'),
    port: typeof parsed.port === 'number' ? parsed.port : parsed.port ? Number(parsed.port) : null,
    extra:
      extra === undefined || extra === null
        ? null
        : typeof extra === 'string'
          ? extra
          : JSON.stringify(extra),
  };
}
