import type { Kysely } from 'kysely';
import type { SerializedDag } from '../dag/serialized.js';
import type { Database } from '../db/tables.js';

export type RunEndReason = 'success' | 'task_failure' | 'timed_out' | 'all_tasks_deadlocked';

/**
 * A run just ended: if its DAG has the matching DAG-level callback, leave a request for the DAG
 * processor to run it (the scheduler never imports DAG files). Called once per run end: only the
 * scheduler whose guarded UPDATE finished the run gets here.
 */
export async function requestDagCallback(
  db: Kysely<Database>,
  dag: SerializedDag,
  runId: string,
  reason: RunEndReason,
  now: number,
): Promise<boolean> {
  const success = reason === 'success';
  if (!(success ? dag.hasCallbacks.onSuccess : dag.hasCallbacks.onFailure)) return false;
  await db
    .insertInto('callback_request')
    .values({
      created_at: now,
      dag_id: dag.dagId,
      run_id: runId,
      fileloc: dag.fileloc,
      callback: success ? 'on_success_callback' : 'on_failure_callback',
      reason,
    })
    .execute();
  return true;
}
