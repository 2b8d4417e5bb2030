import type { Kysely } from 'kysely';
import type { AppContext } from '../../context.js';
import type { Database, DagRunRow, TaskInstanceRow } from '../../db/tables.js';
import * as dagRuns from '../../dag-runs/index.js';
import { ValidationError } from '../../errors.js';
import { getDagRun } from './runs.js';

/**
 * State changes users make from the UI and the REST API, delegated to the shared services in
 * src/dag-runs (the same code the CLI runs). Only web-specific selection (Airflow's past/future
 * options relative to one run) and run deletion live here.
 */
export type OpsApp = Pick<AppContext, 'db'>;

export const setPaused = async (app: OpsApp, dagId: string, paused: boolean) =>
  dagRuns.setDagPaused(await app.db(), dagId, paused);

export const pausedRunNotice = async (app: OpsApp, dagId: string) =>
  dagRuns.pausedRunNotice(await app.db(), dagId);

export async function deleteDag(app: OpsApp, dagId: string): Promise<void> {
  await dagRuns.deleteDag(await app.db(), dagId);
}

export async function triggerDagRun(
  app: OpsApp,
  dagId: string,
  request: { runId?: string; conf?: Record<string, unknown> | string | null; logicalDate?: number },
): Promise<DagRunRow> {
  return dagRuns.triggerDagRun(await app.db(), dagId, request);
}

export async function deleteDagRun(db: Kysely<Database>, dagId: string, runId: string): Promise<void> {
  await getDagRun(db, dagId, runId);
  await db.transaction().execute(async (trx) => {
    for (const table of ['xcom', 'task_reschedule', 'task_instance'] as const) {
      await trx.deleteFrom(table).where('dag_id', '=', dagId).where('run_id', '=', runId).execute();
    }
    await trx.deleteFrom('dag_run').where('dag_id', '=', dagId).where('run_id', '=', runId).execute();
  });
}

export async function setDagRunState(
  app: OpsApp,
  dagId: string,
  runId: string,
  state: 'success' | 'failed' | 'queued',
): Promise<DagRunRow> {
  await dagRuns.setDagRunState(await app.db(), dagId, runId, state);
  return getDagRun((await app.db()).kysely, dagId, runId);
}

export interface ClearRequest {
  dagId: string;
  /** The run the selection is relative to. */
  runId?: string;
  startDate?: number;
  endDate?: number;
  taskIds?: string[];
  upstream?: boolean;
  downstream?: boolean;
  /** With runId: also runs before / after it (by logical date). */
  past?: boolean;
  future?: boolean;
  onlyFailed?: boolean;
  dryRun?: boolean;
}

export async function clearTaskInstances(app: OpsApp, o: ClearRequest): Promise<TaskInstanceRow[]> {
  if (o.taskIds?.length) {
    const dag = await dagRuns.getSerializedDag((await app.db()).kysely, o.dagId);
    const unknown = o.taskIds.filter((id) => !dag.tasks.some((t) => t.taskId === id));
    if (unknown.length)
      throw new ValidationError(`DAG "${o.dagId}" has no task ${unknown.map((u) => `"${u}"`).join(', ')}.`);
  }
  let selector: { runId?: string; start?: number; end?: number } = { start: o.startDate, end: o.endDate };
  if (o.runId) {
    const anchor = await getDagRun((await app.db()).kysely, o.dagId, o.runId);
    if (!o.past && !o.future) selector = { runId: o.runId };
    else
      selector = {
        start: o.past ? undefined : anchor.logical_date,
        end: o.future ? undefined : anchor.logical_date,
      };
  }
  return dagRuns.clearTaskInstances(await app.db(), o.dagId, {
    ...selector,
    taskIds: o.taskIds,
    upstream: o.upstream,
    downstream: o.downstream,
    onlyFailed: o.onlyFailed,
    dryRun: o.dryRun,
  });
}

export interface MarkRequest {
  dagId: string;
  runId: string;
  taskId: string;
  state: 'success' | 'failed';
  upstream?: boolean;
  downstream?: boolean;
  dryRun?: boolean;
}

export async function setTaskInstanceState(app: OpsApp, o: MarkRequest): Promise<TaskInstanceRow[]> {
  if (!o.dryRun) return dagRuns.setTaskInstanceState(await app.db(), o);
  // Dry run (the REST default): report the task instances the mark would change.
  const { kysely } = await app.db();
  const dag = await dagRuns.getSerializedDag(kysely, o.dagId);
  if (!dag.tasks.some((t) => t.taskId === o.taskId))
    throw new ValidationError(`DAG "${o.dagId}" has no task "${o.taskId}".`);
  const ids = new Set([o.taskId]);
  if (o.upstream) for (const id of dagRuns.relatives(dag, [o.taskId], 'upstream')) ids.add(id);
  if (o.downstream) for (const id of dagRuns.relatives(dag, [o.taskId], 'downstream')) ids.add(id);
  return kysely
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', o.dagId)
    .where('run_id', '=', o.runId)
    .where('task_id', 'in', [...ids])
    .execute();
}
