import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { isUniqueViolation, type MetadataDb } from '../db/index.js';
import type { ConnectionTable } from '../db/tables.js';
import type { Selectable } from 'kysely';
import type { Fernet } from '../security/fernet.js';
import { parseConnectionEnvValue, validateExtra, type ConnectionFields } from './uri.js';
import { assertIdentifier } from '../db/identifier.js';

/**
 * Connections: how DAGs reach external systems. Password and extra are fernet-encrypted in the DB
 * when a key is configured. `AIRFLOW_CONN_<ID>` in the environment takes precedence on read.
 */
export interface ConnectionInfo extends ConnectionFields {
  id: number | null;
  /** Where the connection came from: the metadata DB or an AIRFLOW_CONN_* variable. */
  source: 'db' | 'env';
  isEncrypted: boolean;
  isExtraEncrypted: boolean;
}

export function validateConnId(connId: string): string {
  return assertIdentifier('connection id', connId);
}

export function connectionEnvName(connId: string): string {
  return `AIRFLOW_CONN_${connId.toUpperCase()}`;
}

function decrypt(fernet: Fernet, connId: string, value: string | null, encrypted: number): string | null {
  if (value === null || Number(encrypted) !== 1) return value;
  if (!fernet.enabled) {
    throw new ValidationError(
      `Connection '${connId}' has encrypted fields but no [core] fernet_key is configured.`,
    );
  }
  return fernet.decrypt(value);
}

function fromRow(fernet: Fernet, r: Selectable<ConnectionTable>): ConnectionInfo {
  return {
    id: r.id,
    connId: r.conn_id,
    connType: r.conn_type,
    description: r.description,
    host: r.host,
    schema: r.schema,
    login: r.login,
    password: decrypt(fernet, r.conn_id, r.password, r.is_encrypted),
    port: r.port === null ? null : Number(r.port),
    extra: decrypt(fernet, r.conn_id, r.extra, r.is_extra_encrypted),
    source: 'db',
    isEncrypted: Number(r.is_encrypted) === 1,
    isExtraEncrypted: Number(r.is_extra_encrypted) === 1,
  };
}

function validatePort(port: number | null | undefined): number | null {
  if (port === null || port === undefined) return null;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ValidationError(`Invalid connection port '${port}': expected a whole number from 1 to 65535.`);
  }
  return port;
}

/** Add a connection; an existing conn_id is a ConflictError (nothing changes). */
export async function addConnection(
  store: MetadataDb,
  fernet: Fernet,
  fields: ConnectionFields,
): Promise<ConnectionInfo> {
  const connId = validateConnId(fields.connId);
  if (!fields.connType)
    throw new ValidationError(`Connection '${connId}' needs a conn type (e.g. postgres, http, aws).`);
  const extra = fields.extra ? validateExtra(connId, fields.extra) : null;
  const port = validatePort(fields.port);
  const encrypt = (v: string | null | undefined) =>
    v === null || v === undefined || v === '' ? null : fernet.encrypt(v);
  const exists = () => new ConflictError(`A connection with conn_id '${connId}' already exists.`);
  if (await findStored(store, connId)) throw exists();
  try {
    await store.kysely
      .insertInto('connection')
      .values({
        conn_id: connId,
        conn_type: fields.connType,
        description: fields.description ?? null,
        host: fields.host ?? null,
        schema: fields.schema ?? null,
        login: fields.login ?? null,
        password: encrypt(fields.password),
        port,
        extra: encrypt(extra),
        is_encrypted: fernet.enabled && fields.password ? 1 : 0,
        is_extra_encrypted: fernet.enabled && extra ? 1 : 0,
      })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw exists();
    throw error;
  }
  return (await getConnection(store, fernet, connId, {}))!;
}

async function findStored(store: MetadataDb, connId: string) {
  return store.kysely.selectFrom('connection').selectAll().where('conn_id', '=', connId).executeTakeFirst();
}

/** The connection: AIRFLOW_CONN_<ID> first, then the DB; undefined when neither has it. */
export async function getConnection(
  store: MetadataDb,
  fernet: Fernet,
  connId: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConnectionInfo | undefined> {
  const fromEnv = env[connectionEnvName(connId)];
  if (fromEnv !== undefined) {
    return {
      ...parseConnectionEnvValue(connId, fromEnv),
      id: null,
      source: 'env',
      isEncrypted: false,
      isExtraEncrypted: false,
    };
  }
  const row = await findStored(store, connId);
  return row ? fromRow(fernet, row) : undefined;
}

export async function requireConnection(
  store: MetadataDb,
  fernet: Fernet,
  connId: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConnectionInfo> {
  const conn = await getConnection(store, fernet, connId, env);
  if (!conn) throw new NotFoundError(`Connection '${connId}' does not exist.`);
  return conn;
}

/** Connections stored in the DB, by conn_id. */
export async function listConnections(store: MetadataDb, fernet: Fernet): Promise<ConnectionInfo[]> {
  const rows = await store.kysely.selectFrom('connection').selectAll().orderBy('conn_id').execute();
  return rows.map((r) => fromRow(fernet, r));
}

export async function deleteConnection(store: MetadataDb, connId: string): Promise<void> {
  const result = await store.kysely.deleteFrom('connection').where('conn_id', '=', connId).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`Connection '${connId}' does not exist.`);
}

/** A password as shown in listings: never in clear. */
export function maskSecret(value: string | null | undefined): string | null {
  return value ? '***' : null;
}
