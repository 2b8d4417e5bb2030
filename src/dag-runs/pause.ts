import { getDagRow } from './load-dag.js';
import type { MetadataDb } from '../db/index.js';

/**
 * `dags pause` / `dags unpause`. As in Airflow, a paused DAG gets no scheduled runs, and the runs it
 * has (triggered, backfilled or running) are not scheduled: they wait, queued or running, until it
 * is unpaused. Tasks already queued or running finish.
 */
export async function setDagPaused(store: MetadataDb, dagId: string, paused: boolean): Promise<void> {
  const { kysely } = store;
  await getDagRow(kysely, dagId);
  await kysely
    .updateTable('dag')
    .set({ is_paused: paused ? 1 : 0 })
    .where('dag_id', '=', dagId)
    .execute();
}

/** What the CLI and the UI say after creating a run of a paused DAG, or null when it is not paused. */
export async function pausedRunNotice(store: MetadataDb, dagId: string): Promise<string | null> {
  const { kysely } = store;
  const row = await getDagRow(kysely, dagId);
  return row.is_paused
    ? `DAG ${dagId} is paused: its runs wait until it is unpaused (dags unpause ${dagId}).`
    : null;
}
