import { getDagRow } from './load-dag.js';
import type { MetadataDb } from '../db/index.js';

/**
 * `dags delete`: every row about the DAG (it comes back on the next parse if its file still defines
 * it). The audit log is kept, as Airflow's keep_records_in_log does: who did what must outlive the DAG.
 */
export async function deleteDag(store: MetadataDb, dagId: string): Promise<number> {
  const { kysely } = store;
  await getDagRow(kysely, dagId);
  return kysely.transaction().execute(async (trx) => {
    let removed = 0;
    for (const table of [
      'callback_request',
      'xcom',
      'task_reschedule',
      'task_instance',
      'dag_run',
      'dag_tag',
      'serialized_dag',
      'dag',
    ] as const) {
      const r = await trx.deleteFrom(table).where('dag_id', '=', dagId).executeTakeFirst();
      removed += Number(r.numDeletedRows);
    }
    return removed;
  });
}
