import type { Kysely } from 'kysely';
import { NotFoundError } from '../errors.js';
import type { Database } from '../db/tables.js';
import type { SerializedDag } from '../dag/serialized.js';

/** The stored structure of one DAG (what the scheduler and webserver use instead of user code). */
export async function loadSerializedDag(db: Kysely<Database>, dagId: string): Promise<SerializedDag> {
  const row = await db
    .selectFrom('serialized_dag')
    .select('data')
    .where('dag_id', '=', dagId)
    .executeTakeFirst();
  if (!row)
    throw new NotFoundError(
      `DAG '${dagId}' not found (or not parsed yet; see \`updraft dags list-import-errors\`)`,
    );
  return JSON.parse(row.data) as SerializedDag;
}

export async function loadSerializedDags(db: Kysely<Database>): Promise<SerializedDag[]> {
  const rows = await db.selectFrom('serialized_dag').select('data').orderBy('dag_id').execute();
  return rows.map((r) => JSON.parse(r.data) as SerializedDag);
}
