import type { Kysely } from 'kysely';
import type { ConnectionRow, Database, PoolRow, VariableRow } from '../../db/tables.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { Fernet } from '../../security/fernet.js';

/**
 * Variables, connections and pools as the web layer shows and edits them. Secrets never leave
 * the server in clear: connection passwords and sensitive-looking variables are masked.
 */
const SENSITIVE_WORDS = ['password', 'secret', 'passwd', 'authorization', 'api_key', 'apikey', 'access_token', 'private_key', 'token'];

export function isSensitiveKey(key: string): boolean {
  const lower = key.toLowerCase();
  return SENSITIVE_WORDS.some((w) => lower.includes(w));
}

export const MASK = '***';

export interface VariableView {
  key: string;
  value: string;
  description: string | null;
}

function decryptIf(fernet: Fernet, value: string | null, encrypted: number): string | null {
  if (value === null) return null;
  return encrypted ? fernet.decrypt(value) : value;
}

export async function listVariables(db: Kysely<Database>, fernet: Fernet, limit = 100, offset = 0) {
  const rows = await db.selectFrom('variable').selectAll().orderBy('key').limit(limit).offset(offset).execute();
  const total = await db.selectFrom('variable').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  return { rows: rows.map((r) => variableView(fernet, r)), total: Number(total?.n ?? 0) };
}

function variableView(fernet: Fernet, r: VariableRow): VariableView {
  const value = decryptIf(fernet, r.val, r.is_encrypted) ?? '';
  return { key: r.key, value: isSensitiveKey(r.key) ? MASK : value, description: r.description };
}

export async function getVariable(db: Kysely<Database>, fernet: Fernet, key: string): Promise<VariableView> {
  const row = await db.selectFrom('variable').selectAll().where('key', '=', key).executeTakeFirst();
  if (!row) throw new NotFoundError(`Variable "${key}" not found.`);
  return variableView(fernet, row);
}

export async function setVariable(db: Kysely<Database>, fernet: Fernet, key: string, value: string, description: string | null): Promise<void> {
  if (!key || key.length > 250) throw new ValidationError('Variable key must be 1–250 characters.');
  const stored = fernet.enabled ? fernet.encrypt(value) : value;
  const existing = await db.selectFrom('variable').select('id').where('key', '=', key).executeTakeFirst();
  const values = { key, val: stored, description, is_encrypted: fernet.enabled ? 1 : 0 };
  if (existing) await db.updateTable('variable').set(values).where('id', '=', existing.id).execute();
  else await db.insertInto('variable').values(values).execute();
}

export async function deleteVariable(db: Kysely<Database>, key: string): Promise<void> {
  const result = await db.deleteFrom('variable').where('key', '=', key).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`Variable "${key}" not found.`);
}

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

function connectionView(fernet: Fernet, r: ConnectionRow): ConnectionView {
  let extra = decryptIf(fernet, r.extra, r.is_extra_encrypted);
  if (extra) extra = maskExtra(extra);
  return {
    connection_id: r.conn_id,
    conn_type: r.conn_type,
    description: r.description,
    host: r.host,
    schema: r.schema,
    login: r.login,
    port: r.port,
    password: r.password ? MASK : null,
    extra,
  };
}

function maskExtra(extra: string): string {
  try {
    const parsed = JSON.parse(extra) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return JSON.stringify(Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, isSensitiveKey(k) ? MASK : v])));
    }
  } catch {
    // Not JSON: shown as stored.
  }
  return extra;
}

export async function listConnections(db: Kysely<Database>, fernet: Fernet, limit = 100, offset = 0) {
  const rows = await db.selectFrom('connection').selectAll().orderBy('conn_id').limit(limit).offset(offset).execute();
  const total = await db.selectFrom('connection').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  return { rows: rows.map((r) => connectionView(fernet, r)), total: Number(total?.n ?? 0) };
}

export async function getConnection(db: Kysely<Database>, fernet: Fernet, connId: string): Promise<ConnectionView> {
  const row = await db.selectFrom('connection').selectAll().where('conn_id', '=', connId).executeTakeFirst();
  if (!row) throw new NotFoundError(`Connection "${connId}" not found.`);
  return connectionView(fernet, row);
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

export async function createConnection(db: Kysely<Database>, fernet: Fernet, c: ConnectionInput): Promise<void> {
  if (!/^[\w.-]{1,250}$/.test(c.connection_id)) throw new ValidationError('connection_id may only contain letters, digits, _ . -');
  if (!c.conn_type) throw new ValidationError('conn_type is required.');
  if (c.extra) {
    try {
      JSON.parse(c.extra);
    } catch {
      throw new ValidationError('extra must be a JSON object.');
    }
  }
  const exists = await db.selectFrom('connection').select('id').where('conn_id', '=', c.connection_id).executeTakeFirst();
  if (exists) throw new ConflictError(`Connection "${c.connection_id}" already exists.`);
  await db
    .insertInto('connection')
    .values({
      conn_id: c.connection_id,
      conn_type: c.conn_type,
      description: c.description ?? null,
      host: c.host ?? null,
      schema: c.schema ?? null,
      login: c.login ?? null,
      password: c.password ? (fernet.enabled ? fernet.encrypt(c.password) : c.password) : null,
      port: c.port ?? null,
      extra: c.extra ? (fernet.enabled ? fernet.encrypt(c.extra) : c.extra) : null,
      is_encrypted: c.password && fernet.enabled ? 1 : 0,
      is_extra_encrypted: c.extra && fernet.enabled ? 1 : 0,
    })
    .execute();
}

export async function deleteConnection(db: Kysely<Database>, connId: string): Promise<void> {
  const result = await db.deleteFrom('connection').where('conn_id', '=', connId).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`Connection "${connId}" not found.`);
}

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

export async function listPools(db: Kysely<Database>, limit = 100, offset = 0): Promise<{ rows: PoolView[]; total: number }> {
  const pools = await db.selectFrom('slot_pool').selectAll().orderBy('pool').limit(limit).offset(offset).execute();
  const total = await db.selectFrom('slot_pool').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  return { rows: await poolViews(db, pools), total: Number(total?.n ?? 0) };
}

async function poolViews(db: Kysely<Database>, pools: PoolRow[]): Promise<PoolView[]> {
  if (pools.length === 0) return [];
  const usage = await db
    .selectFrom('task_instance')
    .select(['pool', 'state', (eb) => eb.fn.sum<number>('pool_slots').as('slots')])
    .where(
      'pool',
      'in',
      pools.map((p) => p.pool),
    )
    .where('state', 'in', ['running', 'queued', 'deferred'])
    .groupBy(['pool', 'state'])
    .execute();
  return pools.map((p) => {
    const used = (state: string) => Number(usage.find((u) => u.pool === p.pool && u.state === state)?.slots ?? 0);
    const running = used('running');
    const queued = used('queued');
    const occupied = running + queued + (p.include_deferred ? used('deferred') : 0);
    return {
      name: p.pool,
      slots: p.slots,
      occupied_slots: occupied,
      running_slots: running,
      queued_slots: queued,
      open_slots: p.slots < 0 ? Number.POSITIVE_INFINITY : p.slots - occupied,
      description: p.description,
      include_deferred: !!p.include_deferred,
    };
  });
}

export async function getPool(db: Kysely<Database>, name: string): Promise<PoolView> {
  const pool = await db.selectFrom('slot_pool').selectAll().where('pool', '=', name).executeTakeFirst();
  if (!pool) throw new NotFoundError(`Pool "${name}" not found.`);
  return (await poolViews(db, [pool]))[0]!;
}

export async function upsertPool(db: Kysely<Database>, name: string, slots: number, description: string | null): Promise<void> {
  if (!name || name.length > 256) throw new ValidationError('Pool name must be 1–256 characters.');
  if (!Number.isInteger(slots) || slots < -1) throw new ValidationError('slots must be an integer ≥ -1 (-1 means unlimited).');
  const existing = await db.selectFrom('slot_pool').select('id').where('pool', '=', name).executeTakeFirst();
  if (existing) await db.updateTable('slot_pool').set({ slots, description }).where('id', '=', existing.id).execute();
  else await db.insertInto('slot_pool').values({ pool: name, slots, description, include_deferred: 0 }).execute();
}

export async function deletePool(db: Kysely<Database>, name: string): Promise<void> {
  if (name === 'default_pool') throw new ConflictError('default_pool cannot be deleted.');
  const result = await db.deleteFrom('slot_pool').where('pool', '=', name).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new NotFoundError(`Pool "${name}" not found.`);
}
