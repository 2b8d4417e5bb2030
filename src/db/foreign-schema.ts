import { sql } from 'kysely';
import { ConfigError } from '../errors.js';
import type { MetadataDb } from './open.js';
import type { Database } from './tables.js';

/** Every table Updraft's migrations create (typed: a table added to Database must be listed). */
const OWN_TABLES: Record<keyof Database, true> = {
  dag: true,
  dag_tag: true,
  serialized_dag: true,
  dag_code: true,
  callback_request: true,
  import_error: true,
  dag_run: true,
  task_instance: true,
  task_reschedule: true,
  xcom: true,
  log: true,
  job: true,
  variable: true,
  connection: true,
  slot_pool: true,
  ab_user: true,
  ab_role: true,
  ab_user_role: true,
  login_attempt: true,
  session: true,
};

/**
 * Refuse to migrate or reset a database another program owns. Updraft's default home is Airflow's
 * (~/airflow), and its table names are Airflow's, so a real Airflow database would otherwise be
 * "migrated" (tables created beside Airflow's) or dropped by `db reset`. A database is Updraft's
 * when it is empty or holds Updraft's migration table; one with Airflow's alembic_version table, or
 * with tables Updraft does not create and no migration table of its own, is refused.
 */
export async function assertOwnSchema(db: MetadataDb, migrationTables: readonly string[]): Promise<void> {
  const tables = await listTables(db);
  if (tables.includes('alembic_version'))
    throw new ConfigError(
      `${where(db)} holds an Apache Airflow metadata schema (it has Airflow's alembic_version table). ` +
        "Updraft never writes into another program's database: point [database] sql_alchemy_conn " +
        '(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) at a database of its own, or set AIRFLOW_HOME to another folder.',
    );
  if (migrationTables.some((t) => tables.includes(t))) return;
  const known = new Set<string>([...Object.keys(OWN_TABLES), ...migrationTables]);
  const unknown = tables.filter((t) => !known.has(t));
  if (unknown.length > 0)
    throw new ConfigError(
      `${where(db)} is not an Updraft database: it holds tables Updraft does not create ` +
        `(${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? `, … ${unknown.length} in all` : ''}) ` +
        "and no Updraft migration table. Updraft never writes into another program's database: " +
        'point [database] sql_alchemy_conn (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) at an empty database.',
    );
}

function where(db: MetadataDb): string {
  return db.dialect === 'sqlite' ? 'The SQLite database file' : `The ${db.dialect} database`;
}

/** Table names in the connection's own database / schema. */
async function listTables(db: MetadataDb): Promise<string[]> {
  if (db.dialect === 'postgres') {
    const r = await sql<{ name: string }>`
      select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db.kysely);
    return r.rows.map((x) => x.name);
  }
  if (db.dialect === 'sqlite') {
    const r = await sql<{ name: string }>`
      select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db.kysely);
    return r.rows.map((x) => x.name);
  }
  const r = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = database() and table_type = 'BASE TABLE'`.execute(db.kysely);
  return r.rows.map((x) => x.name);
}
