import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { RedisOptions } from 'ioredis';
import { ConfigError } from '../errors.js';
import type { UpdraftConfig } from '../config/schema.js';

/**
 * [celery] broker_url as Airflow users write it, turned into ioredis options:
 *   redis://[[user]:password@]host[:port][/db]
 *   rediss://…  (TLS; ?ssl_cert_reqs=CERT_REQUIRED|CERT_OPTIONAL|CERT_NONE, ssl_ca_certs=,
 *                ssl_certfile=, ssl_keyfile= as kombu reads them; [celery] ssl_* fill what the URL
 *                does not say)
 * Only Redis is a broker here; amqp:// and the rest are refused with a clear error.
 */
export interface BrokerTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: TlsOptions;
  /** The URL without its password, for messages and logs. */
  display: string;
}

const CERT_REQS = ['CERT_REQUIRED', 'CERT_OPTIONAL', 'CERT_NONE'] as const;

/** The URL with its password replaced by ***, whatever else is wrong with it. */
export function redactBrokerUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/]*)@/i, (_m, scheme: string, auth: string) => {
    const colon = auth.indexOf(':');
    return colon < 0 ? `${scheme}${auth}@` : `${scheme}${auth.slice(0, colon)}:***@`;
  });
}

export function parseBrokerUrl(url: string, ssl: SslSettings = {}): BrokerTarget {
  const shown = redactBrokerUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`[celery] broker_url is not a URL: ${shown}`, 'celery', 'broker_url');
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new ConfigError(
      `[celery] broker_url ${shown}: only Redis brokers are supported (redis:// or rediss://), not ${scheme}://`,
      'celery',
      'broker_url',
    );
  }
  if (!parsed.hostname)
    throw new ConfigError(`[celery] broker_url ${shown} names no host`, 'celery', 'broker_url');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const dbPart = parsed.pathname.replace(/^\/+/, '');
  const db = dbPart === '' ? 0 : Number(dbPart);
  if (!Number.isInteger(db) || db < 0 || db > 65535) {
    throw new ConfigError(
      `[celery] broker_url ${shown}: the database number must be a whole number, not '${dbPart}'`,
      'celery',
      'broker_url',
    );
  }
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  const query = parsed.searchParams;
  const useTls = scheme === 'rediss' || ssl.active === true;
  let tls: TlsOptions | undefined;
  if (useTls) {
    const certReqs = (query.get('ssl_cert_reqs') ?? 'CERT_REQUIRED').toUpperCase();
    if (!(CERT_REQS as readonly string[]).includes(certReqs)) {
      throw new ConfigError(
        `[celery] broker_url ${shown}: ssl_cert_reqs must be one of ${CERT_REQS.join(', ')}, not '${certReqs}'`,
        'celery',
        'broker_url',
      );
    }
    const readPem = (what: string, file: string | null | undefined): Buffer | undefined => {
      if (!file) return undefined;
      try {
        return readFileSync(file);
      } catch (error) {
        throw new ConfigError(
          `[celery] broker TLS ${what} ${file} cannot be read: ${(error as Error).message}`,
          'celery',
        );
      }
    };
    tls = {
      servername: parsed.hostname,
      rejectUnauthorized: certReqs !== 'CERT_NONE',
      ca: readPem('CA certificate', query.get('ssl_ca_certs') ?? ssl.cacert),
      cert: readPem('certificate', query.get('ssl_certfile') ?? ssl.cert),
      key: readPem('key', query.get('ssl_keyfile') ?? ssl.key),
    };
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls } : {}),
    display: shown,
  };
}

export interface SslSettings {
  active?: boolean;
  key?: string;
  cert?: string;
  cacert?: string;
}

/** The broker of this configuration ([celery] broker_url and ssl_*). */
export function brokerTarget(config: UpdraftConfig): BrokerTarget {
  const c = config.celery;
  return parseBrokerUrl(c.broker_url, {
    active: c.ssl_active,
    key: c.ssl_key || undefined,
    cert: c.ssl_cert || undefined,
    cacert: c.ssl_cacert || undefined,
  });
}

/** ioredis options for the broker; BullMQ needs maxRetriesPerRequest null on blocking connections. */
export function redisOptions(target: BrokerTarget, connectTimeoutMs: number): RedisOptions {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: target.tls } : {}),
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    // After start, reconnect for ever (a Redis restart must not end a worker), at most every 2 s.
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
  };
}
