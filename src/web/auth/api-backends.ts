import { ConfigError } from '../../errors.js';

/**
 * [api] auth_backends as users copy them from Airflow guides (`airflow.api.auth.backend.basic_auth`)
 * or in Updraft's own spelling (`updraft.api.auth.backend.basic_auth`, or just `basic_auth`).
 */
export type ApiAuthBackend = 'basic_auth' | 'session' | 'deny_all';

const KNOWN: readonly ApiAuthBackend[] = ['basic_auth', 'session', 'deny_all'];
const PREFIXES = ['airflow.api.auth.backend.', 'updraft.api.auth.backend.', 'updraft.api.auth.'];

export function parseApiAuthBackends(values: readonly string[]): Set<ApiAuthBackend> {
  const result = new Set<ApiAuthBackend>();
  for (const raw of values) {
    const value = raw.trim();
    if (!value) continue;
    const prefix = PREFIXES.find((p) => value.startsWith(p));
    const short = prefix ? value.slice(prefix.length) : value;
    const backend = KNOWN.find((k) => k === short);
    if (!backend) {
      throw new ConfigError(
        `[api] auth_backends: unknown backend "${value}". Use airflow.api.auth.backend.basic_auth, ` +
          'airflow.api.auth.backend.session or airflow.api.auth.backend.deny_all.',
        'api',
        'auth_backends',
      );
    }
    result.add(backend);
  }
  return result;
}
