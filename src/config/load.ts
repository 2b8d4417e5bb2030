import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import ini from 'ini';
import { ConfigError } from '../errors.js';
import { airflowHome, configFilePath } from './home.js';
import { formatValue, parseValue } from './parse-value.js';
import { configSchema, specFor, type KeySpec, type UpdraftConfig } from './schema.js';

/** Where a value came from, in precedence order (first wins). */
export type ValueSource = 'env' | 'env_cmd' | 'file' | 'file_cmd' | 'default';

export interface ResolvedValue {
  section: string;
  key: string;
  value: unknown;
  source: ValueSource;
  sensitive: boolean;
}

export interface LoadedConfig {
  readonly values: UpdraftConfig;
  readonly home: string;
  readonly file: string;
  /** Every key with its source, for `config list` and diagnostics. */
  readonly resolved: readonly ResolvedValue[];
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Read this file instead of $AIRFLOW_HOME/airflow.cfg. */
  file?: string;
}

type RawFile = Record<string, Record<string, string>>;

/** The first line of every airflow.cfg Updraft writes (see default-file.ts). */
export const UPDRAFT_CONFIG_MARK = '# Updraft configuration';

function readFileLayer(path: string): { layer: RawFile; writtenByUpdraft: boolean } {
  if (!existsSync(path)) return { layer: {}, writtenByUpdraft: true };
  let parsed: Record<string, unknown>;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
    parsed = ini.parse(text);
  } catch (error) {
    throw new ConfigError(`Cannot read ${path}: ${(error as Error).message}`);
  }
  return { layer: sectionsOf(parsed), writtenByUpdraft: text.startsWith(UPDRAFT_CONFIG_MARK) };
}

function sectionsOf(parsed: Record<string, unknown>): RawFile {
  const out: RawFile = {};
  for (const [section, body] of Object.entries(parsed)) {
    if (body === null || typeof body !== 'object') continue;
    out[section.toLowerCase()] = Object.fromEntries(
      Object.entries(body as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
  }
  return out;
}

function runCommand(what: string, command: string): string {
  try {
    return execSync(command, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }).trim();
  } catch (error) {
    throw new ConfigError(`${what}: the command failed: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** Layer precedence: AIRFLOW__S__K, AIRFLOW__S__K_CMD, the file's key, the file's key_cmd, the default. */
function resolveRaw(
  section: string,
  key: string,
  spec: KeySpec,
  file: RawFile,
  env: NodeJS.ProcessEnv,
): { raw: string; source: ValueSource } | undefined {
  const envName = `AIRFLOW__${section.toUpperCase()}__${key.toUpperCase()}`;
  const fromEnv = env[envName];
  if (fromEnv !== undefined) return { raw: fromEnv, source: 'env' };
  const envCmd = env[`${envName}_CMD`];
  if (envCmd !== undefined) return { raw: runCommand(`${envName}_CMD`, envCmd), source: 'env_cmd' };
  const fromFile = file[section]?.[key];
  if (fromFile !== undefined) return { raw: fromFile, source: 'file' };
  const fileCmd = file[section]?.[`${key}_cmd`];
  if (fileCmd !== undefined) {
    if (!spec.sensitive) {
      throw new ConfigError(`[${section}] ${key}_cmd is only allowed for sensitive keys.`, section, key);
    }
    return { raw: runCommand(`[${section}] ${key}_cmd`, fileCmd), source: 'file_cmd' };
  }
  return undefined;
}

/**
 * Load configuration in layers (defaults, then airflow.cfg, then environment) and validate it once.
 * Invalid values throw ConfigError naming section, key and the accepted form.
 */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const home = airflowHome(env);
  const file = options.file ?? configFilePath(env);
  const { layer: fileLayer, writtenByUpdraft } = readFileLayer(file);
  const placeholders = { AIRFLOW_HOME: home };
  const warnings: string[] = [];
  const resolved: ResolvedValue[] = [];
  const values: Record<string, Record<string, unknown>> = {};

  for (const [section, keys] of Object.entries(configSchema)) {
    const target: Record<string, unknown> = (values[section] = {});
    for (const [key, spec] of Object.entries(keys as Record<string, KeySpec>)) {
      const found = resolveRaw(section, key, spec, fileLayer, env);
      let value: unknown;
      if (found) {
        // Airflow interpolates {AIRFLOW_HOME} in file values; so do we.
        value = parseValue(section, key, spec, found.raw.replaceAll('{AIRFLOW_HOME}', home));
      } else {
        value = typeof spec.default === 'function' ? spec.default(placeholders) : spec.default;
      }
      target[key] = value;
      resolved.push({
        section,
        key,
        value,
        source: found?.source ?? 'default',
        sensitive: spec.sensitive === true,
      });
    }
  }

  const unknownKeys: string[] = [];
  for (const [section, keys] of Object.entries(fileLayer)) {
    for (const key of Object.keys(keys)) {
      const base = key.endsWith('_cmd') ? key.slice(0, -4) : key;
      if (!specFor(section, base)) unknownKeys.push(`[${section}] ${key}`);
    }
  }
  if (!writtenByUpdraft && unknownKeys.length > 0) {
    // Most likely a real Airflow install's airflow.cfg (the default AIRFLOW_HOME is Airflow's too):
    // one warning, not one per key of Airflow's few hundred.
    warnings.push(
      `${file} was not written by Updraft and holds ${unknownKeys.length} key(s) Updraft does not know ` +
        `(${unknownKeys.slice(0, 3).join(', ')}${unknownKeys.length > 3 ? ', …' : ''}); it may be another program's ` +
        "(Apache Airflow's?). Updraft reads only the keys it knows from it; set AIRFLOW_HOME to a folder of " +
        "Updraft's own to keep the two apart.",
    );
  } else {
    for (const k of unknownKeys) warnings.push(`${file}: ${k} is not a key Updraft knows; ignored.`);
  }

  applyDeprecations(values, resolved, warnings);
  return { values: values as unknown as UpdraftConfig, home, file, resolved, warnings };
}

/** Old keys users copy from Airflow guides keep working, with a warning that names the new one. */
function applyDeprecations(
  values: Record<string, Record<string, unknown>>,
  resolved: ResolvedValue[],
  warnings: string[],
): void {
  const sourceOf = (s: string, k: string) => resolved.find((r) => r.section === s && r.key === k)?.source;
  const set = (s: string, k: string, v: unknown, source: ValueSource) => {
    values[s]![k] = v;
    const r = resolved.find((x) => x.section === s && x.key === k);
    if (r) Object.assign(r, { value: v, source });
  };

  const oldConn = values.core!.sql_alchemy_conn as string;
  if (oldConn) {
    warnings.push(
      '[core] sql_alchemy_conn is deprecated since Airflow 2.3: move it to [database] sql_alchemy_conn.',
    );
    if (sourceOf('database', 'sql_alchemy_conn') === 'default') {
      set('database', 'sql_alchemy_conn', oldConn, sourceOf('core', 'sql_alchemy_conn') ?? 'file');
    }
  }
  const oldBackend = values.api!.auth_backend as string;
  if (oldBackend) {
    warnings.push('[api] auth_backend is deprecated: use [api] auth_backends (plural).');
    // The generated airflow.cfg spells out the plural key at its default value; a singular key a
    // user added from an Airflow guide must still take effect then.
    const plural = values.api!.auth_backends as string[];
    const pluralIsDefault = plural.length === 1 && plural[0] === 'airflow.api.auth.backend.session';
    if (
      sourceOf('api', 'auth_backends') === 'default' ||
      (pluralIsDefault && sourceOf('api', 'auth_backends') === 'file')
    ) {
      const list = oldBackend
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      set('api', 'auth_backends', list, sourceOf('api', 'auth_backend') ?? 'file');
    }
  }
}

/** The string form of one key, for `config get-value`. Unknown keys are a ConfigError. */
export function getValueString(config: LoadedConfig, section: string, key: string): string {
  const s = section.toLowerCase();
  const k = key.toLowerCase();
  if (!specFor(s, k)) {
    const known = Object.keys(configSchema).includes(s)
      ? `Keys of [${s}]: ${Object.keys(configSchema[s as keyof typeof configSchema]).join(', ')}`
      : `Sections: ${Object.keys(configSchema).join(', ')}`;
    throw new ConfigError(`The option [${s}/${k}] is not found in config. ${known}.`, s, k);
  }
  const entry = config.resolved.find((r) => r.section === s && r.key === k);
  return formatValue(entry?.value);
}
