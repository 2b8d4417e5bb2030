import { sql, type CompiledQuery, type Expression, type Kysely } from 'kysely';
import { queryTemplate, templatesByShape } from '../query-template.js';
import type { Database, TaskInstanceRow, TaskInstanceState, TaskInstanceUpdate } from '../tables.js';
import type { TaskInstanceKey } from '../../core/task-key.js';

/**
 * The task runner's reads and writes of task_instance, job and task_reschedule. Every state change
 * is a guarded UPDATE (WHERE state/try_number/job_id match what we expect) so that a task instance
 * never runs twice at once and a runner never overwrites a state someone else set while it ran
 * (a clear or a mark from the UI).
 */
/** A try's key (core/task-key.ts); the name the store's callers have used. */
export type TaskInstanceKeyLike = TaskInstanceKey;

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
  const result = await db.executeQuery(claimTaskInstanceStatement(db, key, info, info.jobId));
  return Number(result.numAffectedRows) === 1;
}

/**
 * The job id the claim records: a number, or the id the same statement batch just generated
 * (MySQL's last_insert_id(), see try-transactions.ts).
 */
export type ClaimJobId = number | 'last_insert_id';

const CLAIM_VALUES = [
  'dagId',
  'runId',
  'taskId',
  'mapIndex',
  'tryNumber',
  'hostname',
  'unixname',
  'pid',
  'startDate',
] as const;

/** The claim's four shapes: with or without rendered fields, a job id value or the batch's. */
const claimTemplate = templatesByShape(
  ({ rendered, jobIdFromBatch }: { rendered: boolean; jobIdFromBatch: boolean }) =>
    `${rendered}/${jobIdFromBatch}`,
  ({ rendered, jobIdFromBatch }) =>
    queryTemplate(
      [
        ...CLAIM_VALUES,
        ...(jobIdFromBatch ? [] : (['jobId'] as const)),
        ...(rendered ? (['renderedFields'] as const) : []),
      ],
      (db, v) =>
        claimTaskInstanceQuery(
          db,
          v,
          v,
          jobIdFromBatch ? sql<number>`last_insert_id()` : v.jobId,
          rendered ? v.renderedFields : undefined,
        ),
    ),
);

/** The guarded claim UPDATE, compiled (see claimTaskInstanceQuery). */
export function claimTaskInstanceStatement(
  db: Db,
  key: TaskInstanceKeyLike,
  info: Omit<ClaimInfo, 'jobId'>,
  jobId: ClaimJobId,
): CompiledQuery {
  const rendered = info.renderedFields !== undefined;
  const jobIdFromBatch = jobId === 'last_insert_id';
  // The template reads only the values its shape names from the key and the runner's identity.
  return claimTemplate({ rendered, jobIdFromBatch }).bind(db, {
    ...key,
    ...info,
    jobId,
    renderedFields: rendered ? JSON.stringify(info.renderedFields) : null,
  });
}

/** The guarded claim UPDATE (rendered fields as JSON text; undefined leaves them as they are). */
function claimTaskInstanceQuery(
  db: Db,
  key: TaskInstanceKeyLike,
  info: Pick<ClaimInfo, 'hostname' | 'unixname' | 'pid' | 'startDate'>,
  jobId: number | Expression<number>,
  renderedFieldsJson: string | undefined,
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
      ...(renderedFieldsJson !== undefined ? { rendered_fields: renderedFieldsJson } : {}),
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
  const result = await db.executeQuery(
    finishTemplate({ columns: updatedColumns(update), expectedStates }).bind(db, {
      ...key,
      ...update,
      updated_at: Date.now(),
    }),
  );
  return Number(result.numAffectedRows) === 1;
}

/** One template per set of updated columns and expected states (the update's values are bound). */
const finishTemplate = templatesByShape(
  ({ columns, expectedStates }: { columns: string[]; expectedStates: readonly TaskInstanceState[] }) =>
    `${columns.join(',')}/${expectedStates.join(',')}`,
  ({ columns, expectedStates }) =>
    queryTemplate([...KEY_VALUES, 'updated_at', ...columns], (db, v) => {
      const value = (name: string) => v[name] as never;
      return db
        .updateTable('task_instance')
        .set(Object.fromEntries([...columns, 'updated_at'].map((c) => [c, value(c)])))
        .where('dag_id', '=', value('dagId'))
        .where('run_id', '=', value('runId'))
        .where('task_id', '=', value('taskId'))
        .where('map_index', '=', value('mapIndex'))
        .where('try_number', '=', value('tryNumber'))
        .where('state', 'in', [...expectedStates]);
    }),
);

const KEY_VALUES = ['dagId', 'runId', 'taskId', 'mapIndex', 'tryNumber'] as const;

/** The columns an update sets (an undefined field is left as it is, as Kysely's set() does). */
export function updatedColumns(update: object): string[] {
  return Object.entries(update)
    .filter(([, value]) => value !== undefined)
    .map(([column]) => column)
    .sort();
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
