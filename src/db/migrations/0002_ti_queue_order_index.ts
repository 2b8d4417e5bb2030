import type { Kysely } from 'kysely';
import type { ColumnKit } from './column-types.js';

/**
 * The scheduler picks the next task instances to queue with
 *   WHERE state = 'scheduled' ORDER BY priority_weight DESC, updated_at LIMIT n
 * on every loop. idx_ti_state (state, pool) finds the rows but leaves them to be sorted: with a
 * 1,000-task fan-out scheduled at once that is 1,000 rows read and sorted to queue one or two.
 * This index hands them over in order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('idx_ti_state_priority')
    .on('task_instance')
    .columns(['state', 'priority_weight desc', 'updated_at'])
    .execute();
}

export async function down(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  // Only MySQL names the table in DROP INDEX.
  const drop = db.schema.dropIndex('idx_ti_state_priority');
  await (k.dialect === 'mysql' ? drop.on('task_instance') : drop).execute();
}
