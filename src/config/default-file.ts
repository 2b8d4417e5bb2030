import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UPDRAFT_CONFIG_MARK } from './load.js';
import { formatValue } from './parse-value.js';
import { configSchema, type KeySpec } from './schema.js';

/** A Fernet key: 32 random bytes, URL-safe base64 (the form Airflow's `fernet_key` takes). */
export function generateFernetKey(): string {
  return randomBytes(32).toString('base64url') + '=';
}

export function generateSecretKey(): string {
  return randomBytes(24).toString('base64url');
}

/** Render a commented airflow.cfg with every key at its default and fresh secrets. */
export function renderDefaultConfig(home: string): string {
  const lines = [
    `${UPDRAFT_CONFIG_MARK}, in the shape of Apache Airflow’s airflow.cfg.`,
    '# Every key can be overridden by the environment variable AIRFLOW__{SECTION}__{KEY}.',
    '# Precedence: AIRFLOW__S__K, AIRFLOW__S__K_CMD, this file, built-in default.',
    '',
  ];
  const secrets: Record<string, string> = {
    'core.fernet_key': generateFernetKey(),
    'webserver.secret_key': generateSecretKey(),
  };
  for (const [section, keys] of Object.entries(configSchema)) {
    lines.push(`[${section}]`);
    for (const [key, spec] of Object.entries(keys as Record<string, KeySpec>)) {
      if (spec.doc.startsWith('Deprecated')) continue;
      const def = typeof spec.default === 'function' ? spec.default({ AIRFLOW_HOME: home }) : spec.default;
      lines.push(`# ${spec.doc}`);
      lines.push(`${key} = ${secrets[`${section}.${key}`] ?? formatValue(def)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * Write the default airflow.cfg if there is none yet. The file holds secrets, so it is created
 * 0600 (and the home folder 0700 when we create it). Returns true when a file was written.
 */
export function ensureDefaultConfig(file: string, home: string): boolean {
  if (existsSync(file)) return false;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, renderDefaultConfig(home), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process wrote it first: theirs stands.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  chmodSync(file, 0o600);
  return true;
}
