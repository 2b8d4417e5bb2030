import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { isUniqueViolation, type MetadataDb } from '../db/index.js';
import { assertIdentifier } from '../db/identifier.js';
import { SHORT_TEXT_LEN } from '../db/migrations/column-types.js';

/**
 * Pools cap how many task instances run at once across DAGs. `default_pool` (128 slots, seeded by
 * migration 0001) holds every task without a pool and cannot be deleted. Slots -1 means unlimited.
 */
export { DEFAULT_POOL } from '../core/pools.js';
import { DEFAULT_POOL } from '../core/pools.js';

export interface PoolInfo {
  name: string;
  slots: number;
  description: string | null;
  includeDeferred: boolean;
}

export function validatePoolName(name: string): string {
  return assertIdentifier('pool name', name, SHORT_TEXT_LEN);
}

export function validateSlots(slots: number | string): number {
  const n = typeof slots === 'number' ? slots : Number(String(slots).trim());
  if (!Number.isInteger(n) || n < -1 || n > 2_147_483_647 || String(slots).trim() === '') {
    throw new ValidationError(
      `Invalid pool slots '${slots}': expected a whole number of at least 0 (-1 for unlimited).`,
    );
  }
  return n;
}

function toInfo(r: {
  pool: string;
  slots: number;
  description: string | null;
  include_deferred: number;
}): PoolInfo {
  return {
    name: r.pool,
    slots: Number(r.slots),
    description: r.description,
    includeDeferred: Number(r.include_deferred) === 1,
  };
}

/** Create or update a pool. */
export async function setPool(
  store: MetadataDb,
  name: string,
  slots: number | string,
  description: string | null = null,
  options: { includeDeferred?: boolean } = {},
): Promise<PoolInfo> {
  validatePoolName(name);
  const values = {
    slots: validateSlots(slots),
    description,
    include_deferred: options.includeDeferred ? 1 : 0,
  };
  const update = () =>
    store.kysely.updateTable('slot_pool').set(values).where('pool', '=', name).executeTakeFirst();
  if (Number((await update()).numUpdatedRows) === 0) {
    try {
      await store.kysely
        .insertInto('slot_pool')
        .values({ pool: name, ...values })
        .execute();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      await update();
    }
  }
  return getPool(store, name);
}

export async function findPool(store: MetadataDb, name: string): Promise<PoolInfo | undefined> {
  const row = await store.kysely
    .selectFrom('slot_pool')
    .selectAll()
    .where('pool', '=', name)
    .executeTakeFirst();
  return row ? toInfo(row) : undefined;
}

export async function getPool(store: MetadataDb, name: string): Promise<PoolInfo> {
  const pool = await findPool(store, name);
  if (!pool) throw new NotFoundError(`Pool ${name} does not exist.`);
  return pool;
}

export async function listPools(store: MetadataDb): Promise<PoolInfo[]> {
  const rows = await store.kysely.selectFrom('slot_pool').selectAll().orderBy('pool').execute();
  return rows.map(toInfo);
}

export async function deletePool(store: MetadataDb, name: string): Promise<PoolInfo> {
  if (name === DEFAULT_POOL) throw new ConflictError(`${DEFAULT_POOL} cannot be deleted.`);
  const pool = await getPool(store, name);
  await store.kysely.deleteFrom('slot_pool').where('pool', '=', name).execute();
  return pool;
}
