import type { Kysely } from 'kysely';
import type { Database, DagRunRow, TaskInstanceState } from '../../db/tables.js';
import type { SerializedDag } from '../../dag/serialized.js';
import { ConflictError, ValidationError } from '../../errors.js';
import { getDag, getSerializedDag } from './dags.js';
import { getDagRun } from './runs.js';
import { resolveConf } from './params.js';

/**
 * State changes users make from the UI and the REST API: pause, trigger, clear, mark, delete.
 * Kept in one module so the web layer calls exactly one implementation of each.
 */
export async function setPaused(db: Kysely<Database>, dagId: string, paused: boolean): Promise<void> {
  await getDag(db, dagId);
  await db.updateTable('dag').set({ is_paused: paused ? 1 : 0 }).where('dag_id', '=', dagId).execute();
}

/** Delete a DAG and every row about it except the audit log (Airflow keeps `log` rows). */
export async function deleteDag(db: Kysely<Database>, dagId: string): Promise<void> {
  const dag = await getDag(db, dagId);
  const running = await db
    .selectFrom('task_instance')
    .select('task_id')
    .where('dag_id', '=', dagId)
    .where('state', 'in', ['running', 'queued'])
    .executeTakeFirst();
  if (running) throw new ConflictError(`DAG "${dagId}" has running or queued task instances; wait for them or mark them first.`);
  await db.transaction().execute(async (trx) => {
    for (const table of ['xcom', 'task_reschedule', 'task_instance', 'dag_run', 'dag_tag', 'serialized_dag'] as const) {
      await trx.deleteFrom(table).where('dag_id', '=', dagId).execute();
    }
    await trx.deleteFrom('dag').where('dag_id', '=', dagId).execute();
    const others = await trx.selectFrom('dag').select('dag_id').where('fileloc', '=', dag.fileloc).executeTakeFirst();
    if (!others) await trx.deleteFrom('dag_code').where('fileloc', '=', dag.fileloc).execute();
  });
}

export interface TriggerRequest {
  runId?: string;
  conf?: unknown;
  logicalDate?: number;
  note?: string;
}

/**
 * A manual run in state queued; the scheduler creates its task instances and starts it, exactly
 * as for a run it created itself. Conf is checked against the DAG's params first.
 */
export async function triggerDagRun(db: Kysely<Database>, dagId: string, request: TriggerRequest): Promise<DagRunRow> {
  await getDag(db, dagId);
  const serialized = await getSerializedDag(db, dagId);
  const conf = resolveConf(serialized, request.conf ?? {});
  const logicalDate = request.logicalDate ?? Date.now();
  const runId = request.runId ?? `manual__${new Date(logicalDate).toISOString()}`;
  if (!/^[A-Za-z0-9_.:+~-]{1,250}$/.test(runId)) {
    throw new ValidationError(`Run id "${runId}" may only contain letters, digits, _ . : + ~ - (at most 250).`);
  }
  const clash = await db
    .selectFrom('dag_run')
    .select('run_id')
    .where('dag_id', '=', dagId)
    .where((eb) => eb.or([eb('run_id', '=', runId), eb('logical_date', '=', logicalDate)]))
    .executeTakeFirst();
  if (clash) throw new ConflictError(`DAG "${dagId}" already has a run "${clash.run_id}" with this run id or logical date.`);
  const now = Date.now();
  await db
    .insertInto('dag_run')
    .values({
      dag_id: dagId,
      run_id: runId,
      run_type: 'manual',
      state: 'queued',
      logical_date: logicalDate,
      data_interval_start: logicalDate,
      data_interval_end: logicalDate,
      queued_at: now,
      external_trigger: 1,
      conf: JSON.stringify(conf),
      updated_at: now,
    })
    .execute();
  return getDagRun(db, dagId, runId);
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

const UNFINISHED: TaskInstanceState[] = ['scheduled', 'queued', 'running', 'up_for_retry', 'up_for_reschedule', 'restarting', 'deferred'];

/**
 * Mark a run success, failed or queued like Airflow: success finishes every unfinished task as
 * success; failed fails running tasks and skips those not yet started; queued re-queues the run.
 */
export async function setDagRunState(db: Kysely<Database>, dagId: string, runId: string, state: 'success' | 'failed' | 'queued'): Promise<DagRunRow> {
  await getDagRun(db, dagId, runId);
  const now = Date.now();
  await db.transaction().execute(async (trx) => {
    const ti = trx.updateTable('task_instance').where('dag_id', '=', dagId).where('run_id', '=', runId);
    if (state === 'success') {
      await ti
        .set({ state: 'success', end_date: now, updated_at: now })
        .where((eb) => eb.or([eb('state', 'is', null), eb('state', 'in', UNFINISHED)]))
        .execute();
    } else if (state === 'failed') {
      await ti.set({ state: 'failed', end_date: now, updated_at: now }).where('state', 'in', ['running', 'deferred', 'up_for_retry', 'up_for_reschedule', 'restarting']).execute();
      await trx
        .updateTable('task_instance')
        .set({ state: 'skipped', end_date: now, updated_at: now })
        .where('dag_id', '=', dagId)
        .where('run_id', '=', runId)
        .where((eb) => eb.or([eb('state', 'is', null), eb('state', 'in', ['scheduled', 'queued'])]))
        .execute();
    }
    await trx
      .updateTable('dag_run')
      .set(state === 'queued' ? { state, queued_at: now, end_date: null, updated_at: now } : { state, end_date: now, updated_at: now })
      .where('dag_id', '=', dagId)
      .where('run_id', '=', runId)
      .execute();
  });
  return getDagRun(db, dagId, runId);
}

export interface ClearOptions {
  dagId: string;
  /** The run the selection starts from. */
  runId?: string;
  /** Runs between these logical dates (REST clearTaskInstances). */
  startDate?: number;
  endDate?: number;
  taskIds?: string[];
  upstream?: boolean;
  downstream?: boolean;
  past?: boolean;
  future?: boolean;
  onlyFailed?: boolean;
  dryRun?: boolean;
}

export interface ClearedTaskInstance {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  state: string | null;
}

/** Tasks selected plus their upstream/downstream closure in the DAG's graph. */
export function relatives(dag: SerializedDag, taskIds: string[], upstream: boolean, downstream: boolean): Set<string> {
  const selected = new Set(taskIds);
  const up = new Map(dag.tasks.map((t) => [t.taskId, t.upstream]));
  const down = new Map<string, string[]>(dag.tasks.map((t) => [t.taskId, []]));
  for (const t of dag.tasks) for (const u of t.upstream) down.get(u)?.push(t.taskId);
  const walk = (edges: Map<string, string[]>) => {
    const stack = [...taskIds];
    while (stack.length) {
      for (const next of edges.get(stack.pop()!) ?? []) {
        if (!selected.has(next)) {
          selected.add(next);
          stack.push(next);
        }
      }
    }
  };
  if (upstream) walk(up);
  if (downstream) walk(down);
  return selected;
}

/**
 * Clear task instances so the scheduler runs them again: state back to none (running ones to
 * restarting, so their process is stopped), max_tries raised so retries are available again, and
 * their runs re-queued.
 */
export async function clearTaskInstances(db: Kysely<Database>, o: ClearOptions): Promise<ClearedTaskInstance[]> {
  const serialized = await getSerializedDag(db, o.dagId);
  const known = new Set(serialized.tasks.map((t) => t.taskId));
  for (const id of o.taskIds ?? []) if (!known.has(id)) throw new ValidationError(`DAG "${o.dagId}" has no task "${id}".`);
  const taskIds = o.taskIds?.length ? [...relatives(serialized, o.taskIds, !!o.upstream, !!o.downstream)] : null;

  let runs = db.selectFrom('dag_run').select(['run_id', 'logical_date']).where('dag_id', '=', o.dagId);
  if (o.runId) {
    const anchor = await getDagRun(db, o.dagId, o.runId);
    if (!o.past && !o.future) runs = runs.where('run_id', '=', o.runId);
    else {
      if (!o.past) runs = runs.where('logical_date', '>=', anchor.logical_date);
      if (!o.future) runs = runs.where('logical_date', '<=', anchor.logical_date);
    }
  }
  if (o.startDate !== undefined) runs = runs.where('logical_date', '>=', o.startDate);
  if (o.endDate !== undefined) runs = runs.where('logical_date', '<=', o.endDate);
  const runIds = (await runs.execute()).map((r) => r.run_id);
  if (runIds.length === 0) return [];

  let select = db
    .selectFrom('task_instance')
    .select(['dag_id', 'run_id', 'task_id', 'map_index', 'state', 'try_number', 'max_tries', 'task_id'])
    .where('dag_id', '=', o.dagId)
    .where('run_id', 'in', runIds);
  if (taskIds) select = select.where('task_id', 'in', taskIds);
  if (o.onlyFailed) select = select.where('state', 'in', ['failed', 'upstream_failed']);
  const tis = await select.execute();
  if (o.dryRun || tis.length === 0) return tis.map(({ dag_id, run_id, task_id, map_index, state }) => ({ dag_id, run_id, task_id, map_index, state }));

  const retries = new Map(serialized.tasks.map((t) => [t.taskId, t.retries]));
  const now = Date.now();
  await db.transaction().execute(async (trx) => {
    for (const ti of tis) {
      await trx
        .updateTable('task_instance')
        .set({
          state: ti.state === 'running' ? 'restarting' : null,
          max_tries: ti.try_number + (retries.get(ti.task_id) ?? 0),
          end_date: null,
          next_retry_at: null,
          updated_at: now,
        })
        .where('dag_id', '=', ti.dag_id)
        .where('run_id', '=', ti.run_id)
        .where('task_id', '=', ti.task_id)
        .where('map_index', '=', ti.map_index)
        .execute();
    }
    const touched = [...new Set(tis.map((t) => t.run_id))];
    await trx
      .updateTable('dag_run')
      .set({ state: 'queued', queued_at: now, end_date: null, updated_at: now })
      .where('dag_id', '=', o.dagId)
      .where('run_id', 'in', touched)
      .execute();
  });
  return tis.map(({ dag_id, run_id, task_id, map_index, state }) => ({ dag_id, run_id, task_id, map_index, state }));
}

/** Mark one task instance (and optionally its relatives in the same run) success or failed. */
export async function setTaskInstanceState(
  db: Kysely<Database>,
  o: { dagId: string; runId: string; taskId: string; state: 'success' | 'failed'; upstream?: boolean; downstream?: boolean; dryRun?: boolean },
): Promise<ClearedTaskInstance[]> {
  const serialized = await getSerializedDag(db, o.dagId);
  if (!serialized.tasks.some((t) => t.taskId === o.taskId)) throw new ValidationError(`DAG "${o.dagId}" has no task "${o.taskId}".`);
  await getDagRun(db, o.dagId, o.runId);
  const taskIds = [...relatives(serialized, [o.taskId], !!o.upstream, !!o.downstream)];
  const tis = await db
    .selectFrom('task_instance')
    .select(['dag_id', 'run_id', 'task_id', 'map_index', 'state'])
    .where('dag_id', '=', o.dagId)
    .where('run_id', '=', o.runId)
    .where('task_id', 'in', taskIds)
    .execute();
  if (o.dryRun) return tis;
  const now = Date.now();
  await db
    .updateTable('task_instance')
    .set({ state: o.state, end_date: now, updated_at: now })
    .where('dag_id', '=', o.dagId)
    .where('run_id', '=', o.runId)
    .where('task_id', 'in', taskIds)
    .execute();
  // The scheduler re-evaluates the run on its next loop; re-open a finished run so it does.
  await db
    .updateTable('dag_run')
    .set({ state: 'running', end_date: null, updated_at: now })
    .where('dag_id', '=', o.dagId)
    .where('run_id', '=', o.runId)
    .where('state', 'in', ['success', 'failed'])
    .execute();
  return tis;
}
