import type { Kysely } from 'kysely';
import type { Database, MetadataDb } from '../../db/index.js';
import { NotFoundError } from '../../errors.js';
import { jsonObjectOrNull } from '../../core/json-object.js';
import type { Fernet } from '../../security/fernet.js';
import * as connections from '../../connections/index.js';
import * as pools from '../../pools/index.js';
import * as variables from '../../variables/index.js';
import { sortRows, type RowOrder } from './order.js';

/**
 * Variables, connections and pools as the web layer shows them, on top of their services
 * (src/variables, src/connections, src/pools). Only presentation lives here: secrets are masked
 * (connection passwords, sensitive extra keys and sensitive-looking variables), pool usage added.
 */
const SENSITIVE_WORDS = [
  'password',
  'secret',
  'passwd',
  'authorization',
  'api_key',
  'apikey',
  'access_token',
  'private_key',
  'token',
];
export const MASK = '***';

export function isSensitiveKey(key: string): boolean {
  const lower = key.toLowerCase();
  return SENSITIVE_WORDS.some((w) => lower.includes(w));
}

export interface VariableView {
  key: string;
  value: string;
  description: string | null;
}

function variableView(v: variables.VariableInfo): VariableView {
  return { key: v.key, value: isSensitiveKey(v.key) ? MASK : v.value, description: v.description };
}

export async function listVariables(
  store: MetadataDb,
  fernet: Fernet,
  limit = 100,
  offset = 0,
  order?: RowOrder,
) {
  const all = sortRows((await variables.listVariables(store, fernet)).map(variableView), order);
  return { rows: all.slice(offset, offset + limit), total: all.length };
}

export async function getVariable(store: MetadataDb, fernet: Fernet, key: string): Promise<VariableView> {
  // Stored value only (an AIRFLOW_VAR_* override of the webserver's environment is not the DB's).
  const found = (await variables.listVariables(store, fernet)).find((v) => v.key === key);
  if (!found) throw new NotFoundError(`Variable ${key} does not exist.`);
  return variableView(found);
}

export const setVariable = variables.setVariable;
export const deleteVariable = variables.deleteVariable;

export interface ConnectionView {
  connection_id: string;
  conn_type: string;
  description: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  port: number | null;
  /** Never the password itself. */
  password: string | null;
  extra: string | null;
}

function maskExtra(extra: string | null | undefined): string | null {
  if (!extra) return null;
  const parsed = jsonObjectOrNull(extra);
  // Not a JSON object: shown as stored.
  if (!parsed) return extra;
  return JSON.stringify(
    Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, isSensitiveKey(k) ? MASK : v])),
  );
}

function connectionView(c: connections.ConnectionInfo): ConnectionView {
  return {
    connection_id: c.connId,
    conn_type: c.connType,
    description: c.description ?? null,
    host: c.host ?? null,
    schema: c.schema ?? null,
    login: c.login ?? null,
    port: c.port ?? null,
    password: connections.maskSecret(c.password),
    extra: maskExtra(c.extra),
  };
}

export async function listConnections(
  store: MetadataDb,
  fernet: Fernet,
  limit = 100,
  offset = 0,
  order?: RowOrder,
) {
  const all = sortRows((await connections.listConnections(store, fernet)).map(connectionView), order);
  return { rows: all.slice(offset, offset + limit), total: all.length };
}

export async function getConnection(
  store: MetadataDb,
  fernet: Fernet,
  connId: string,
): Promise<ConnectionView> {
  const found = await connections.getConnection(store, fernet, connId, {});
  if (!found) throw new NotFoundError(`Connection '${connId}' does not exist.`);
  return connectionView(found);
}

export interface ConnectionInput {
  connection_id: string;
  conn_type: string;
  description?: string | null;
  host?: string | null;
  schema?: string | null;
  login?: string | null;
  password?: string | null;
  port?: number | null;
  extra?: string | null;
}

export async function createConnection(store: MetadataDb, fernet: Fernet, c: ConnectionInput): Promise<void> {
  await connections.addConnection(store, fernet, {
    connId: c.connection_id,
    connType: c.conn_type,
    description: c.description,
    host: c.host,
    schema: c.schema,
    login: c.login,
    password: c.password,
    port: c.port,
    extra: c.extra,
  });
}

export const deleteConnection = connections.deleteConnection;

export interface PoolView {
  name: string;
  slots: number;
  occupied_slots: number;
  running_slots: number;
  queued_slots: number;
  open_slots: number;
  description: string | null;
  include_deferred: boolean;
}

/** Slot usage of the given pools with one GROUP BY query. */
async function withUsage(db: Kysely<Database>, list: pools.PoolInfo[]): Promise<PoolView[]> {
  if (list.length === 0) return [];
  const usage = await db
    .selectFrom('task_instance')
    .select(['pool', 'state', (eb) => eb.fn.sum<number>('pool_slots').as('slots')])
    .where(
      'pool',
      'in',
      list.map((p) => p.name),
    )
    .where('state', 'in', ['running', 'queued', 'deferred'])
    .groupBy(['pool', 'state'])
    .execute();
  return list.map((p) => {
    const used = (state: string) =>
      Number(usage.find((u) => u.pool === p.name && u.state === state)?.slots ?? 0);
    const running = used('running');
    const queued = used('queued');
    const occupied = running + queued + (p.includeDeferred ? used('deferred') : 0);
    return {
      name: p.name,
      slots: p.slots,
      occupied_slots: occupied,
      running_slots: running,
      queued_slots: queued,
      // -1 means unlimited; JSON has no infinity, so report -1 open slots as Airflow does.
      open_slots: p.slots < 0 ? -1 : p.slots - occupied,
      description: p.description,
      include_deferred: p.includeDeferred,
    };
  });
}

export async function listPools(
  store: MetadataDb,
  limit = 100,
  offset = 0,
  order?: RowOrder,
): Promise<{ rows: PoolView[]; total: number }> {
  // name and slots, the fields a pool list sorts by, are the same in PoolInfo and PoolView.
  const all = sortRows(await pools.listPools(store), order);
  return { rows: await withUsage(store.kysely, all.slice(offset, offset + limit)), total: all.length };
}

export async function getPool(store: MetadataDb, name: string): Promise<PoolView> {
  return (await withUsage(store.kysely, [await pools.getPool(store, name)]))[0]!;
}

export async function upsertPool(
  store: MetadataDb,
  name: string,
  slots: number,
  description: string | null,
): Promise<void> {
  await pools.setPool(store, name, slots, description);
}

export async function deletePool(store: MetadataDb, name: string): Promise<void> {
  await pools.deletePool(store, name);
}
