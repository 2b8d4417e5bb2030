import type { TaskInstanceRow, TaskInstanceState } from '../db/tables.js';
import { ValidationError } from '../errors.js';
import { relatives } from './graph.js';
import { getSerializedDag } from './load-dag.js';
import { selectRuns, type RunSelector } from './select-runs.js';
import type { MetadataDb } from '../db/index.js';
import { transactionWithRetry } from '../db/transient-errors.js';

export interface ClearOptions extends RunSelector {
  /** Regular expression matched (search) against task ids; default every task. */
  taskRegex?: string;
  taskIds?: string[];
  /** Also clear the matched tasks' upstream / downstream tasks. */
  upstream?: boolean;
  downstream?: boolean;
  onlyFailed?: boolean;
  onlyRunning?: boolean;
  /** Report what would be cleared; change nothing. */
  dryRun?: boolean;
  now?: number;
}

const FAILED: readonly (TaskInstanceState | null)[] = ['failed', 'upstream_failed'];
const ACTIVE: readonly (TaskInstanceState | null)[] = ['running', 'queued'];

/**
 * Airflow's clear: the selected task instances go back to state none with max_tries extended so
 * they get their retries again; a running one becomes `restarting` (the scheduler asks its executor
 * to stop it, and its runner notices on its next heartbeat too; once it stopped the scheduler
 * reschedules it). Their runs go back to queued.
 */
export async function clearTaskInstances(
  store: MetadataDb,
  dagId: string,
  options: ClearOptions = {},
): Promise<TaskInstanceRow[]> {
  let pattern: RegExp | undefined;
  if (options.taskRegex !== undefined) {
    try {
      pattern = new RegExp(options.taskRegex);
    } catch (error) {
      throw new ValidationError(`Invalid task regex '${options.taskRegex}': ${(error as Error).message}`);
    }
  }
  const { kysely } = store;
  const dag = await getSerializedDag(kysely, dagId);
  const matched = new Set(
    dag.tasks
      .map((t) => t.taskId)
      .filter((id) => (!pattern || pattern.test(id)) && (!options.taskIds || options.taskIds.includes(id))),
  );
  const selected = new Set(matched);
  if (options.upstream) for (const id of relatives(dag, matched, 'upstream')) selected.add(id);
  if (options.downstream) for (const id of relatives(dag, matched, 'downstream')) selected.add(id);
  if (selected.size === 0) return [];
  const runs = await selectRuns(kysely, dagId, options);
  if (runs.length === 0) return [];
  const runIds = runs.map((r) => r.run_id);
  let tis = await kysely
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', dagId)
    .where('run_id', 'in', runIds)
    .execute();
  tis = tis.filter((ti) => selected.has(ti.task_id));
  if (options.onlyFailed) tis = tis.filter((ti) => FAILED.includes(ti.state));
  if (options.onlyRunning) tis = tis.filter((ti) => ACTIVE.includes(ti.state));
  if (options.dryRun || tis.length === 0) return tis;
  const retries = new Map(dag.tasks.map((t) => [t.taskId, t.retries]));
  const now = options.now ?? Date.now();
  await transactionWithRetry(kysely, async (trx) => {
    for (const ti of tis) {
      await trx
        .updateTable('task_instance')
        .set({
          state: ti.state === 'running' ? 'restarting' : null,
          max_tries: ti.try_number + (retries.get(ti.task_id) ?? 0),
          next_retry_at: null,
          end_date: ti.state === 'running' ? ti.end_date : null,
          updated_at: now,
        })
        .where('dag_id', '=', ti.dag_id)
        .where('run_id', '=', ti.run_id)
        .where('task_id', '=', ti.task_id)
        .where('map_index', '=', ti.map_index)
        .execute();
    }
    const touched = [...new Set(tis.map((ti) => ti.run_id))];
    await trx
      .updateTable('dag_run')
      .set({ state: 'queued', end_date: null, queued_at: now, updated_at: now })
      .where('dag_id', '=', dagId)
      .where('run_id', 'in', touched)
      .execute();
  });
  return tis;
}
