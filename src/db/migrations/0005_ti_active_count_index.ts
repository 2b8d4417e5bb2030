import type { Kysely } from 'kysely';
import type { ColumnKit } from './column-types.js';

/**
 * On every loop the scheduler counts what is active per DAG and pool:
 *   SELECT dag_id, pool, count(*), sum(pool_slots) FROM task_instance
 *   WHERE state IN ('queued', 'running') GROUP BY dag_id, pool
 * idx_ti_state (state, pool) finds the few active rows but not their dag_id and pool_slots, so each
 * one costs a lookup in the table. During a wide fan-out InnoDB's estimate of those ranges counts
 * the index entries that state changes left for purge, and in about a third of the loops MySQL
 * chose to scan the whole table instead (~600 rows read per loop in a 1,000-task fan-out). With
 * the two columns in the index the count is read from the index alone, which is cheaper than a
 * scan at any estimate. The index keeps its name and its leading columns (state, pool), so every
 * query that used it still can.
 */
const COLUMNS_BEFORE = ['state', 'pool'];
const COLUMNS_AFTER = ['state', 'pool', 'dag_id', 'pool_slots'];

async function replaceIndex(db: Kysely<unknown>, k: ColumnKit, columns: string[]): Promise<void> {
  // Only MySQL names the table in DROP INDEX.
  const drop = db.schema.dropIndex('idx_ti_state');
  await (k.dialect === 'mysql' ? drop.on('task_instance') : drop).execute();
  await db.schema.createIndex('idx_ti_state').on('task_instance').columns(columns).execute();
}

export async function up(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  await replaceIndex(db, k, COLUMNS_AFTER);
}

export async function down(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  await replaceIndex(db, k, COLUMNS_BEFORE);
}
