import type { Kysely } from 'kysely';
import type { SerializedDag } from '../dag/serialized.js';
import type { Database, DagRow } from '../db/tables.js';
import { NotFoundError } from '../errors.js';

/**
 * Reading serialized DAGs. The parsed JSON is cached per stored text, so a DAG is parsed once per
 * change, not once per call. (Not per dag_hash: that covers the DAG's structure but not where it
 * lives, so a DAG moved to another file would keep its old fileloc.)
 */
const cache = new Map<string, { data: string; dag: SerializedDag }>();

export async function findSerializedDag(
  db: Kysely<Database>,
  dagId: string,
): Promise<SerializedDag | undefined> {
  const row = await db
    .selectFrom('serialized_dag')
    .select('data')
    .where('dag_id', '=', dagId)
    .executeTakeFirst();
  if (!row) return undefined;
  const hit = cache.get(dagId);
  if (hit && hit.data === row.data) return hit.dag;
  const dag = JSON.parse(row.data) as SerializedDag;
  cache.set(dagId, { data: row.data, dag });
  return dag;
}

export async function getSerializedDag(db: Kysely<Database>, dagId: string): Promise<SerializedDag> {
  const dag = await findSerializedDag(db, dagId);
  if (!dag) throw new NotFoundError(`DAG '${dagId}' not found (is it in the DAGs folder and parsed?)`);
  return dag;
}

export async function getDagRow(db: Kysely<Database>, dagId: string): Promise<DagRow> {
  const row = await db.selectFrom('dag').selectAll().where('dag_id', '=', dagId).executeTakeFirst();
  if (!row) throw new NotFoundError(`DAG '${dagId}' not found`);
  return row;
}
