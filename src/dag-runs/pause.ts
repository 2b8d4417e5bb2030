import { getDagRow } from './load-dag.js';
import type { MetadataDb } from '../db/index.js';

/** `dags pause` / `dags unpause`: a paused DAG gets no scheduled runs; running ones continue. */
export async function setDagPaused(store: MetadataDb, dagId: string, paused: boolean): Promise<void> {
  const { kysely } = store;
  await getDagRow(kysely, dagId);
  await kysely
    .updateTable('dag')
    .set({ is_paused: paused ? 1 : 0 })
    .where('dag_id', '=', dagId)
    .execute();
}
