import { sql, type Kysely } from 'kysely';
import type { ColumnKit } from './column-types.js';

/**
 * dag_code.dependencies: the local modules a DAG file imports (JSON array of absolute paths), so
 * that editing a shared helper module re-parses the DAG files that use it. source_hash then
 * covers the file and those modules (see src/dag-processing/source-hash.ts).
 */
export async function up(db: Kysely<unknown>, k: ColumnKit): Promise<void> {
  await db.schema.alterTable('dag_code').addColumn('dependencies', k.longText).execute();
  // Hashes recorded before did not cover imported modules: parse every file once more to learn them.
  await sql`update dag_code set source_hash = ''`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('dag_code').dropColumn('dependencies').execute();
}
