import type { DagRunState, TaskInstanceRow, TaskInstanceState } from '../db/tables.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { relatives } from './graph.js';
import { getSerializedDag } from './load-dag.js';
import type { MetadataDb } from '../db/index.js';
import { transactionWithRetry } from '../db/transient-errors.js';

const UNFINISHED: readonly (TaskInstanceState | null)[] = [
  null,
  'scheduled',
  'queued',
  'running',
  'up_for_retry',
  'up_for_reschedule',
  'restarting',
  'deferred',
];

export interface MarkTaskOptions {
  dagId: string;
  runId: string;
  taskId: string;
  /** Default: every map index of the task. */
  mapIndex?: number;
  state: 'success' | 'failed' | 'skipped';
  upstream?: boolean;
  downstream?: boolean;
  now?: number;
}

/**
 * Mark task instances success/failed/skipped (the UI's Mark buttons, the API's
 * updateTaskInstancesState). A running one is stopped through the scheduler's executor (see
 * stopChangedRunning) or by its runner's next heartbeat. A finished
 * run goes back to running so the scheduler settles its state again.
 */
export async function setTaskInstanceState(
  store: MetadataDb,
  options: MarkTaskOptions,
): Promise<TaskInstanceRow[]> {
  if (!['success', 'failed', 'skipped'].includes(options.state))
    throw new ValidationError(`Cannot mark a task '${options.state}': use success, failed or skipped`);
  const { kysely } = store;
  const dag = await getSerializedDag(kysely, options.dagId);
  if (!dag.tasks.some((t) => t.taskId === options.taskId))
    throw new NotFoundError(`Task '${options.taskId}' not found in DAG '${options.dagId}'`);
  const run = await kysely
    .selectFrom('dag_run')
    .select(['state'])
    .where('dag_id', '=', options.dagId)
    .where('run_id', '=', options.runId)
    .executeTakeFirst();
  if (!run) throw new NotFoundError(`DAG run '${options.runId}' of DAG '${options.dagId}' not found`);
  const ids = new Set([options.taskId]);
  if (options.upstream) for (const id of relatives(dag, ids, 'upstream')) ids.add(id);
  if (options.downstream) for (const id of relatives(dag, [options.taskId], 'downstream')) ids.add(id);
  let tis = await kysely
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', options.dagId)
    .where('run_id', '=', options.runId)
    .where('task_id', 'in', [...ids])
    .execute();
  if (options.mapIndex !== undefined)
    tis = tis.filter((ti) => ti.task_id !== options.taskId || ti.map_index === options.mapIndex);
  const now = options.now ?? Date.now();
  await transactionWithRetry(kysely, async (trx) => {
    for (const ti of tis) {
      await trx
        .updateTable('task_instance')
        .set({ state: options.state, end_date: now, start_date: ti.start_date ?? now, updated_at: now })
        .where('dag_id', '=', ti.dag_id)
        .where('run_id', '=', ti.run_id)
        .where('task_id', '=', ti.task_id)
        .where('map_index', '=', ti.map_index)
        .execute();
    }
    if (run.state === 'success' || run.state === 'failed') {
      await trx
        .updateTable('dag_run')
        .set({ state: 'running', end_date: null, updated_at: now })
        .where('dag_id', '=', options.dagId)
        .where('run_id', '=', options.runId)
        .execute();
    }
  });
  return tis.map((ti) => ({ ...ti, state: options.state }));
}

/**
 * Mark a whole run: success marks every unfinished or failed TI success; failed marks running
 * ones failed and the not-yet-started ones skipped; queued just re-queues the run.
 */
export async function setDagRunState(
  store: MetadataDb,
  dagId: string,
  runId: string,
  state: DagRunState,
  now = Date.now(),
): Promise<void> {
  if (!['queued', 'success', 'failed'].includes(state))
    throw new ValidationError(`Cannot set a DAG run to '${state}': use queued, success or failed`);
  const { kysely } = store;
  const run = await kysely
    .selectFrom('dag_run')
    .select(['state'])
    .where('dag_id', '=', dagId)
    .where('run_id', '=', runId)
    .executeTakeFirst();
  if (!run) throw new NotFoundError(`DAG run '${runId}' of DAG '${dagId}' not found`);
  await transactionWithRetry(kysely, async (trx) => {
    const tis = trx.updateTable('task_instance').where('dag_id', '=', dagId).where('run_id', '=', runId);
    if (state === 'success') {
      await tis
        .set({ state: 'success', end_date: now, updated_at: now })
        .where((eb) => eb.or([eb('state', 'is', null), eb('state', 'not in', ['success', 'skipped'])]))
        .execute();
    } else if (state === 'failed') {
      await tis
        .set({ state: 'failed', end_date: now, updated_at: now })
        .where('state', 'in', ['running', 'queued', 'restarting'])
        .execute();
      await trx
        .updateTable('task_instance')
        .set({ state: 'skipped', end_date: now, updated_at: now })
        .where('dag_id', '=', dagId)
        .where('run_id', '=', runId)
        .where((eb) =>
          eb.or([
            eb('state', 'is', null),
            eb('state', 'in', ['scheduled', 'up_for_retry', 'up_for_reschedule']),
          ]),
        )
        .execute();
    }
    await trx
      .updateTable('dag_run')
      .set({
        state,
        end_date: state === 'queued' ? null : now,
        updated_at: now,
        ...(state === 'queued' ? { queued_at: now } : {}),
      })
      .where('dag_id', '=', dagId)
      .where('run_id', '=', runId)
      .execute();
  });
}

export { UNFINISHED as UNFINISHED_TI_STATES };
