import { NotFoundError, ValidationError } from '../errors.js';
import { isUniqueViolation, type MetadataDb } from '../db/index.js';
import type { Fernet } from '../security/fernet.js';
import { assertIdentifier } from '../db/identifier.js';
import { SHORT_TEXT_LEN } from '../db/migrations/column-types.js';

/**
 * Variables: key/value settings DAGs read at run time. Values are stored fernet-encrypted when a
 * fernet_key is configured (is_encrypted = 1), as Airflow does. `AIRFLOW_VAR_<KEY>` in the
 * environment overrides the stored value on read.
 */
export interface VariableInfo {
  key: string;
  value: string;
  description: string | null;
  isEncrypted: boolean;
}

export function validateVariableKey(key: string): string {
  return assertIdentifier('variable key', key, SHORT_TEXT_LEN);
}

export function variableEnvName(key: string): string {
  return `AIRFLOW_VAR_${key.toUpperCase()}`;
}

function decode(fernet: Fernet, row: { key: string; val: string; is_encrypted: number }): string {
  if (Number(row.is_encrypted) !== 1) return row.val;
  if (!fernet.enabled) {
    throw new ValidationError(`Variable '${row.key}' is encrypted but no [core] fernet_key is configured.`);
  }
  return fernet.decrypt(row.val);
}

/** Create or replace a variable. */
export async function setVariable(
  store: MetadataDb,
  fernet: Fernet,
  key: string,
  value: string,
  description?: string | null,
): Promise<void> {
  validateVariableKey(key);
  const stored = { val: fernet.encrypt(value), is_encrypted: fernet.enabled ? 1 : 0 };
  const update = () =>
    store.kysely
      .updateTable('variable')
      .set(description === undefined ? stored : { ...stored, description })
      .where('key', '=', key)
      .executeTakeFirst();
  const updated = await update();
  if (Number(updated.numUpdatedRows) > 0) return;
  try {
    await store.kysely
      .insertInto('variable')
      .values({ key, ...stored, description: description ?? null })
      .execute();
  } catch (error) {
    // Another writer inserted the key after our update found nothing: update theirs.
    if (!isUniqueViolation(error)) throw error;
    await update();
  }
}

/**
 * The value of a variable: the environment override first, then the DB. Undefined when neither
 * has it.
 */
export async function getVariable(
  store: MetadataDb,
  fernet: Fernet,
  key: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const fromEnv = env[variableEnvName(key)];
  if (fromEnv !== undefined) return fromEnv;
  const row = await store.kysely.selectFrom('variable').selectAll().where('key', '=', key).executeTakeFirst();
  return row ? decode(fernet, row) : undefined;
}

/** Like getVariable, but a missing variable is a NotFoundError. */
export async function requireVariable(
  store: MetadataDb,
  fernet: Fernet,
  key: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const value = await getVariable(store, fernet, key, env);
  if (value === undefined) throw new NotFoundError(`Variable ${key} does not exist.`);
  return value;
}

/** Stored variables (environment overrides are not listed, as in Airflow), values decrypted. */
export async function listVariables(store: MetadataDb, fernet: Fernet): Promise<VariableInfo[]> {
  const rows = await store.kysely.selectFrom('variable').selectAll().orderBy('key').execute();
  return rows.map((r) => ({
    key: r.key,
    value: decode(fernet, r),
    description: r.description,
    isEncrypted: Number(r.is_encrypted) === 1,
  }));
}

/** Keys and descriptions without decrypting anything (what `variables list` shows). */
export async function listVariableKeys(
  store: MetadataDb,
): Promise<{ key: string; description: string | null; isEncrypted: boolean }[]> {
  const rows = await store.kysely
    .selectFrom('variable')
    .select(['key', 'description', 'is_encrypted'])
    .orderBy('key')
    .execute();
  return rows.map((r) => ({
    key: r.key,
    description: r.description,
    isEncrypted: Number(r.is_encrypted) === 1,
  }));
}

export async function deleteVariable(store: MetadataDb, key: string): Promise<void> {
  const result = await store.kysely.deleteFrom('variable').where('key', '=', key).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`Variable ${key} does not exist.`);
}

/** Parse a stored value as JSON (for `variables get -j` and `var.json`). */
export function parseVariableJson(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new ValidationError(`Variable ${key} is not valid JSON.`);
  }
}
