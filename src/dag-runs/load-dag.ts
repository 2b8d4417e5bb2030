import type { Kysely } from 'kysely';
import type { SerializedDag } from '../dag/serialized.js';
import type { Database, DagRow } from '../db/tables.js';
import { NotFoundError } from '../errors.js';

/**
 * Reading serialized DAGs. The parsed JSON is cached per dag_hash, so the scheduler parses a DAG
 * once per change, not once per loop.
 */
const cache = new Map<string, { hash: string; dag: SerializedDag }>();

export async function findSerializedDag(
  db: Kysely<Database>,
  dagId: string,
): Promise<SerializedDag | undefined> {
  const row = await db
    .selectFrom('serialized_dag')
    .select(['data', 'dag_hash'])
    .where('dag_id', '=', dagId)
    .executeTakeFirst();
  if (!row) return undefined;
  const hit = cache.get(dagId);
  if (hit && hit.hash === row.dag_hash) return hit.dag;
  const dag = JSON.parse(row.data) as SerializedDag;
  cache.set(dagId, { hash: row.dag_hash, dag });
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
