import type { Kysely } from 'kysely';
import type { ColumnKit } from './column-types.js';

/**
 * A task job row names the try it ran (run, task, map index, try number), so the host of any try is
 * known, not only the latest one's (task_instance.hostname is overwritten by each new try). The log
 * readers use it: with a Celery worker per host, try 1's log is on the host that ran try 1. Other
 * job types leave the columns null.
 */
const COLUMNS = ['run_id', 'task_id', 'map_index', 'try_number'] as const;

export async function up(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  // One column per statement: SQLite adds one at a time.
  await db.schema.alterTable('job').addColumn('run_id', k.idType).execute();
  await db.schema.alterTable('job').addColumn('task_id', k.idType).execute();
  await db.schema.alterTable('job').addColumn('map_index', 'integer').execute();
  await db.schema.alterTable('job').addColumn('try_number', 'integer').execute();
  await db.schema
    .createIndex('idx_job_try')
    .on('job')
    .columns(['dag_id', 'run_id', 'task_id', 'map_index', 'try_number'])
    .execute();
}

export async function down(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  // Only MySQL names the table in DROP INDEX.
  const drop = db.schema.dropIndex('idx_job_try');
  await (k.dialect === 'mysql' ? drop.on('job') : drop).execute();
  for (const column of COLUMNS) await db.schema.alterTable('job').dropColumn(column).execute();
}
