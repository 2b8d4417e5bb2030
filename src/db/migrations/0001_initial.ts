import type { Kysely } from 'kysely';
import type { ColumnKit } from './column-types.js';

/** The initial schema: every table the orchestrator, webserver and CLI need. */
export async function up(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  const s = db.schema;
  const id = k.idType;

  await k
    .finish(
      s
        .createTable('dag')
        .addColumn('dag_id', id, (c) => k.id(c).primaryKey())
        .addColumn('fileloc', 'varchar(2000)', (c) => c.notNull())
        .addColumn('owners', 'varchar(2000)', (c) => c.notNull().defaultTo(''))
        .addColumn('description', k.longText)
        .addColumn('is_paused', 'smallint', (c) => c.notNull().defaultTo(1))
        .addColumn('is_active', 'smallint', (c) => c.notNull().defaultTo(1))
        .addColumn('has_import_errors', 'smallint', (c) => c.notNull().defaultTo(0))
        .addColumn('schedule_interval', 'varchar(1000)')
        .addColumn('timetable_description', 'varchar(1000)')
        .addColumn('max_active_runs', 'integer', (c) => c.notNull())
        .addColumn('max_active_tasks', 'integer', (c) => c.notNull())
        .addColumn('last_parsed_time', 'bigint')
        .addColumn('next_dagrun', 'bigint')
        .addColumn('next_dagrun_data_interval_start', 'bigint')
        .addColumn('next_dagrun_data_interval_end', 'bigint')
        .addColumn('next_dagrun_create_after', 'bigint'),
    )
    .execute();
  await s
    .createIndex('idx_dag_next_dagrun_create_after')
    .on('dag')
    .columns(['is_paused', 'is_active', 'next_dagrun_create_after'])
    .execute();

  await k
    .finish(
      s
        .createTable('dag_tag')
        .addColumn('dag_id', id, (c) => k.id(c).notNull())
        .addColumn('name', 'varchar(100)', (c) => c.notNull())
        .addPrimaryKeyConstraint('pk_dag_tag', ['dag_id', 'name']),
    )
    .execute();
  await s.createIndex('idx_dag_tag_name').on('dag_tag').column('name').execute();

  await k
    .finish(
      s
        .createTable('serialized_dag')
        .addColumn('dag_id', id, (c) => k.id(c).primaryKey())
        .addColumn('fileloc', 'varchar(2000)', (c) => c.notNull())
        .addColumn('data', k.longText, (c) => c.notNull())
        .addColumn('dag_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('last_updated', 'bigint', (c) => c.notNull()),
    )
    .execute();

  await k
    .finish(
      s
        .createTable('dag_code')
        .addColumn('fileloc', 'varchar(700)', (c) => k.id(c).primaryKey())
        .addColumn('source_code', k.longText, (c) => c.notNull())
        .addColumn('source_hash', 'varchar(64)', (c) => c.notNull())
        .addColumn('last_updated', 'bigint', (c) => c.notNull()),
    )
    .execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('import_error'), 'id')
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addColumn('filename', 'varchar(700)', (c) => k.id(c).notNull())
        .addColumn('stacktrace', k.longText, (c) => c.notNull()),
    )
    .execute();
  await s.createIndex('idx_import_error_filename').on('import_error').column('filename').execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('dag_run'), 'id')
        .addColumn('dag_id', id, (c) => k.id(c).notNull())
        .addColumn('run_id', id, (c) => k.id(c).notNull())
        .addColumn('run_type', 'varchar(50)', (c) => c.notNull())
        .addColumn('state', 'varchar(50)', (c) => c.notNull())
        .addColumn('logical_date', 'bigint', (c) => c.notNull())
        .addColumn('data_interval_start', 'bigint')
        .addColumn('data_interval_end', 'bigint')
        .addColumn('queued_at', 'bigint')
        .addColumn('start_date', 'bigint')
        .addColumn('end_date', 'bigint')
        .addColumn('external_trigger', 'smallint', (c) => c.notNull().defaultTo(0))
        .addColumn('conf', k.longText)
        .addColumn('last_scheduling_decision', 'bigint')
        .addColumn('creating_job_id', 'integer')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('uq_dag_run_dag_id_run_id', ['dag_id', 'run_id'])
        .addUniqueConstraint('uq_dag_run_dag_id_logical_date', ['dag_id', 'logical_date']),
    )
    .execute();
  await s.createIndex('idx_dag_run_state').on('dag_run').columns(['state', 'dag_id']).execute();

  await k
    .finish(
      s
        .createTable('task_instance')
        .addColumn('dag_id', id, (c) => k.id(c).notNull())
        .addColumn('run_id', id, (c) => k.id(c).notNull())
        .addColumn('task_id', id, (c) => k.id(c).notNull())
        .addColumn('map_index', 'integer', (c) => c.notNull().defaultTo(-1))
        .addColumn('state', 'varchar(20)')
        .addColumn('try_number', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('max_tries', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('start_date', 'bigint')
        .addColumn('end_date', 'bigint')
        .addColumn('duration', 'double precision')
        .addColumn('hostname', 'varchar(1000)')
        .addColumn('unixname', 'varchar(1000)')
        .addColumn('pid', 'integer')
        .addColumn('job_id', 'integer')
        .addColumn('pool', 'varchar(256)', (c) => c.notNull())
        .addColumn('pool_slots', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('queue', 'varchar(256)', (c) => c.notNull())
        .addColumn('priority_weight', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('operator', 'varchar(1000)')
        .addColumn('queued_dttm', 'bigint')
        .addColumn('queued_by_job_id', 'integer')
        .addColumn('next_retry_at', 'bigint')
        .addColumn('external_executor_id', 'varchar(250)')
        .addColumn('rendered_fields', k.longText)
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('pk_task_instance', ['dag_id', 'run_id', 'task_id', 'map_index']),
    )
    .execute();
  await s.createIndex('idx_ti_state').on('task_instance').columns(['state', 'pool']).execute();
  await s.createIndex('idx_ti_dag_state').on('task_instance').columns(['dag_id', 'state']).execute();
  await s.createIndex('idx_ti_job_id').on('task_instance').column('job_id').execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('task_reschedule'), 'id')
        .addColumn('dag_id', id, (c) => k.id(c).notNull())
        .addColumn('run_id', id, (c) => k.id(c).notNull())
        .addColumn('task_id', id, (c) => k.id(c).notNull())
        .addColumn('map_index', 'integer', (c) => c.notNull().defaultTo(-1))
        .addColumn('try_number', 'integer', (c) => c.notNull())
        .addColumn('start_date', 'bigint', (c) => c.notNull())
        .addColumn('end_date', 'bigint', (c) => c.notNull())
        .addColumn('duration', 'double precision', (c) => c.notNull())
        .addColumn('reschedule_date', 'bigint', (c) => c.notNull()),
    )
    .execute();
  await s
    .createIndex('idx_task_reschedule_ti')
    .on('task_reschedule')
    .columns(['dag_id', 'run_id', 'task_id', 'map_index', 'try_number'])
    .execute();

  await k
    .finish(
      s
        .createTable('xcom')
        .addColumn('dag_id', id, (c) => k.id(c).notNull())
        .addColumn('run_id', id, (c) => k.id(c).notNull())
        .addColumn('task_id', id, (c) => k.id(c).notNull())
        .addColumn('map_index', 'integer', (c) => c.notNull().defaultTo(-1))
        .addColumn('key', 'varchar(200)', (c) => k.id(c).notNull())
        .addColumn('value', k.longText, (c) => c.notNull())
        .addColumn('timestamp', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('pk_xcom', ['dag_id', 'run_id', 'task_id', 'map_index', 'key']),
    )
    .execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('log'), 'id')
        .addColumn('dttm', 'bigint', (c) => c.notNull())
        .addColumn('dag_id', id, (c) => k.id(c))
        .addColumn('task_id', id, (c) => k.id(c))
        .addColumn('map_index', 'integer')
        .addColumn('run_id', id, (c) => k.id(c))
        .addColumn('event', 'varchar(60)', (c) => c.notNull())
        .addColumn('owner', 'varchar(500)')
        .addColumn('extra', k.longText),
    )
    .execute();
  await s.createIndex('idx_log_dttm').on('log').column('dttm').execute();
  await s.createIndex('idx_log_dag_id').on('log').columns(['dag_id', 'dttm']).execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('job'), 'id')
        .addColumn('dag_id', id, (c) => k.id(c))
        .addColumn('state', 'varchar(20)', (c) => c.notNull())
        .addColumn('job_type', 'varchar(30)', (c) => c.notNull())
        .addColumn('start_date', 'bigint', (c) => c.notNull())
        .addColumn('end_date', 'bigint')
        .addColumn('latest_heartbeat', 'bigint', (c) => c.notNull())
        .addColumn('executor_class', 'varchar(500)')
        .addColumn('hostname', 'varchar(500)', (c) => c.notNull())
        .addColumn('unixname', 'varchar(1000)')
        .addColumn('pid', 'integer'),
    )
    .execute();
  await s.createIndex('idx_job_type_heartbeat').on('job').columns(['job_type', 'latest_heartbeat']).execute();
  await s.createIndex('idx_job_state_heartbeat').on('job').columns(['state', 'latest_heartbeat']).execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('variable'), 'id')
        .addColumn('key', k.shortText, (c) => c.notNull().unique())
        .addColumn('val', k.longText, (c) => c.notNull())
        .addColumn('description', k.longText)
        .addColumn('is_encrypted', 'smallint', (c) => c.notNull().defaultTo(0)),
    )
    .execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('connection'), 'id')
        .addColumn('conn_id', id, (c) => k.id(c).notNull().unique())
        .addColumn('conn_type', 'varchar(500)', (c) => c.notNull())
        .addColumn('description', k.longText)
        .addColumn('host', 'varchar(500)')
        .addColumn('schema', 'varchar(500)')
        .addColumn('login', k.longText)
        .addColumn('password', k.longText)
        .addColumn('port', 'integer')
        .addColumn('extra', k.longText)
        .addColumn('is_encrypted', 'smallint', (c) => c.notNull().defaultTo(0))
        .addColumn('is_extra_encrypted', 'smallint', (c) => c.notNull().defaultTo(0)),
    )
    .execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('slot_pool'), 'id')
        .addColumn('pool', k.shortText, (c) => c.notNull().unique())
        .addColumn('slots', 'integer', (c) => c.notNull())
        .addColumn('description', k.longText)
        .addColumn('include_deferred', 'smallint', (c) => c.notNull().defaultTo(0)),
    )
    .execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('ab_user'), 'id')
        .addColumn('username', k.shortText, (c) => c.notNull().unique())
        .addColumn('first_name', 'varchar(256)', (c) => c.notNull())
        .addColumn('last_name', 'varchar(256)', (c) => c.notNull())
        .addColumn('email', k.shortText, (c) => c.notNull().unique())
        .addColumn('password', 'varchar(256)', (c) => c.notNull())
        .addColumn('active', 'smallint', (c) => c.notNull().defaultTo(1))
        .addColumn('created_on', 'bigint', (c) => c.notNull())
        .addColumn('changed_on', 'bigint', (c) => c.notNull())
        .addColumn('last_login', 'bigint')
        .addColumn('login_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('fail_login_count', 'integer', (c) => c.notNull().defaultTo(0)),
    )
    .execute();

  await k
    .finish(
      k
        .serialPk(s.createTable('ab_role'), 'id')
        .addColumn('name', 'varchar(64)', (c) => c.notNull().unique()),
    )
    .execute();

  await k
    .finish(
      s
        .createTable('ab_user_role')
        .addColumn('user_id', 'integer', (c) => c.notNull().references('ab_user.id').onDelete('cascade'))
        .addColumn('role_id', 'integer', (c) => c.notNull().references('ab_role.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('pk_ab_user_role', ['user_id', 'role_id']),
    )
    .execute();

  // Seed rows every installation has: the five roles and the default pool.
  await db
    .insertInto('ab_role' as never)
    .values(['Admin', 'Op', 'User', 'Viewer', 'Public'].map((name) => ({ name })) as never)
    .execute();
  await db
    .insertInto('slot_pool' as never)
    .values({ pool: 'default_pool', slots: 128, description: 'Default pool', include_deferred: 0 } as never)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'ab_user_role',
    'ab_role',
    'ab_user',
    'slot_pool',
    'connection',
    'variable',
    'job',
    'log',
    'xcom',
    'task_reschedule',
    'task_instance',
    'dag_run',
    'import_error',
    'dag_code',
    'serialized_dag',
    'dag_tag',
    'dag',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
