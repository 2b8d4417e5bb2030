import type { Expression, Kysely } from 'kysely';
import type { Database, TaskInstanceRow, TaskInstanceState, TaskInstanceUpdate } from '../db/tables.js';

/**
 * The task runner's reads and writes of task_instance, job and task_reschedule. Every state change
 * is a guarded UPDATE (WHERE state/try_number/job_id match what we expect) so that a task instance
 * never runs twice at once and a runner never overwrites a state someone else set while it ran
 * (a clear or a mark from the UI).
 */
export interface TaskInstanceKeyLike {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

type Db = Kysely<Database>;

export async function readTaskInstance(
  db: Db,
  key: Omit<TaskInstanceKeyLike, 'tryNumber'>,
): Promise<TaskInstanceRow | undefined> {
  return db
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', key.dagId)
    .where('run_id', '=', key.runId)
    .where('task_id', '=', key.taskId)
    .where('map_index', '=', key.mapIndex)
    .executeTakeFirst();
}

/** States from which a runner may start a try (the scheduler queued it, or `tasks run` set it up). */
export const CLAIMABLE_STATES: readonly TaskInstanceState[] = ['queued', 'scheduled'];

export interface ClaimInfo {
  hostname: string;
  unixname: string;
  pid: number;
  jobId: number;
  startDate: number;
  /** The try's rendered templated fields (task_instance.rendered_fields); undefined leaves them. */
  renderedFields?: Record<string, unknown>;
}

/** Move the TI to running for this try. False when another runner got there first (or the state moved on). */
export async function claimTaskInstance(db: Db, key: TaskInstanceKeyLike, info: ClaimInfo): Promise<boolean> {
  const result = await claimTaskInstanceQuery(db, key, info, info.jobId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The guarded claim UPDATE; the job id may be an SQL expression (a variable set by the same batch). */
export function claimTaskInstanceQuery(
  db: Db,
  key: TaskInstanceKeyLike,
  info: Omit<ClaimInfo, 'jobId'>,
  jobId: number | Expression<number>,
) {
  return db
    .updateTable('task_instance')
    .set({
      state: 'running',
      hostname: info.hostname,
      unixname: info.unixname,
      pid: info.pid,
      job_id: jobId,
      start_date: info.startDate,
      end_date: null,
      duration: null,
      next_retry_at: null,
      updated_at: info.startDate,
      ...(info.renderedFields ? { rendered_fields: JSON.stringify(info.renderedFields) } : {}),
    })
    .where('dag_id', '=', key.dagId)
    .where('run_id', '=', key.runId)
    .where('task_id', '=', key.taskId)
    .where('map_index', '=', key.mapIndex)
    .where('try_number', '=', key.tryNumber)
    .where('state', 'in', [...CLAIMABLE_STATES]);
}

/** Write the end of a try, only if the TI is still running this try. */
export async function finishTaskInstance(
  db: Db,
  key: TaskInstanceKeyLike,
  update: TaskInstanceUpdate,
  expectedStates: readonly TaskInstanceState[] = ['running'],
): Promise<boolean> {
  const result = await db
    .updateTable('task_instance')
    .set({ ...update, updated_at: Date.now() })
    .where('dag_id', '=', key.dagId)
    .where('run_id', '=', key.runId)
    .where('task_id', '=', key.taskId)
    .where('map_index', '=', key.mapIndex)
    .where('try_number', '=', key.tryNumber)
    .where('state', 'in', [...expectedStates])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function recordReschedule(
  db: Db,
  key: TaskInstanceKeyLike,
  startDate: number,
  endDate: number,
  rescheduleDate: number,
): Promise<void> {
  await db
    .insertInto('task_reschedule')
    .values({
      dag_id: key.dagId,
      run_id: key.runId,
      task_id: key.taskId,
      map_index: key.mapIndex,
      try_number: key.tryNumber,
      start_date: startDate,
      end_date: endDate,
      duration: (endDate - startDate) / 1000,
      reschedule_date: rescheduleDate,
    })
    .execute();
}

/** Start of the first poke of the current try of a rescheduled sensor (its timeout counts from there). */
export async function firstRescheduleStart(db: Db, key: TaskInstanceKeyLike): Promise<number | null> {
  const row = await db
    .selectFrom('task_reschedule')
    .select((eb) => eb.fn.min('start_date').as('first'))
    .where('dag_id', '=', key.dagId)
    .where('run_id', '=', key.runId)
    .where('task_id', '=', key.taskId)
    .where('map_index', '=', key.mapIndex)
    .where('try_number', '=', key.tryNumber)
    .executeTakeFirst();
  return row?.first == null ? null : Number(row.first);
}
