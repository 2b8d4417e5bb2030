import type { Kysely } from 'kysely';
import type { ColumnKit } from './column-types.js';

/**
 * callback_request: DAG-level callbacks (onSuccessCallback / onFailureCallback) the scheduler asks
 * for when a run ends. The scheduler never imports user code; the DAG processor, which does (in
 * its parse workers), runs them (as Airflow's DAG processor runs its callback requests).
 */
/** Tables this migration creates, dropped by `db reset`. */
export const createdTables = ['callback_request'] as const;

export async function up(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  await k
    .finish(
      k
        .serialPk(db.schema.createTable('callback_request'), 'id')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('dag_id', k.idType, (c) => k.id(c).notNull())
        .addColumn('run_id', k.idType, (c) => k.id(c).notNull())
        .addColumn('fileloc', k.longText, (c) => c.notNull())
        .addColumn('callback', 'varchar(40)', (c) => c.notNull())
        .addColumn('reason', 'varchar(100)'),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('callback_request').execute();
}
