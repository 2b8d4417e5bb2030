import type { Kysely, Updateable } from 'kysely';
import type { SerializedDag } from '../dag/serialized.js';
import type { Database } from '../db/tables.js';
import { transactionWithRetry } from '../db/transient-errors.js';

export type RunEndReason = 'success' | 'task_failure' | 'timed_out' | 'all_tasks_deadlocked';

/**
 * A run just ended: if its DAG has the matching DAG-level callback, leave a request for the DAG
 * processor to run it (the scheduler never imports DAG files). Called once per run end: only the
 * scheduler whose guarded UPDATE finished the run gets here.
 */
function wantsCallback(dag: SerializedDag, reason: RunEndReason): boolean {
  return reason === 'success' ? dag.hasCallbacks.onSuccess : dag.hasCallbacks.onFailure;
}

/**
 * End a run: its final state (guarded on `running`, so only one scheduler ends it) and, when the
 * DAG has the matching callback, the request for it, in one transaction: a crash between the two
 * writes can neither lose the callback nor leave a request for a run that did not end. True when
 * this call ended the run.
 */
export async function endRun(
  db: Kysely<Database>,
  dag: SerializedDag | undefined,
  key: { dagId: string; runId: string },
  values: Updateable<Database['dag_run']> & { state: 'success' | 'failed' },
  reason: RunEndReason,
  now: number,
): Promise<boolean> {
  const write = async (tx: Kysely<Database>): Promise<boolean> => {
    const r = await tx
      .updateTable('dag_run')
      .set(values)
      .where('dag_id', '=', key.dagId)
      .where('run_id', '=', key.runId)
      .where('state', '=', 'running')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    if (dag) await requestDagCallback(tx, dag, key.runId, reason, now);
    return true;
  };
  // Without a callback to record, the guarded UPDATE alone is atomic.
  if (!dag || !wantsCallback(dag, reason) || db.isTransaction) return write(db);
  return transactionWithRetry(db, write);
}

export async function requestDagCallback(
  db: Kysely<Database>,
  dag: SerializedDag,
  runId: string,
  reason: RunEndReason,
  now: number,
): Promise<boolean> {
  const success = reason === 'success';
  if (!wantsCallback(dag, reason)) return false;
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
