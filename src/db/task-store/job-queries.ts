import type { CompiledQuery, Kysely } from 'kysely';
import { queryTemplate } from '../query-template.js';
import type { Database, JobState } from '../tables.js';
import type { DialectName } from '../connection-url.js';

/**
 * The LocalTaskJob row of one try: the scheduler's zombie detection reads `latest_heartbeat`
 * (a running TI whose job stopped heartbeating for scheduler_zombie_task_threshold is a zombie).
 * Each beat also re-reads the TI, so a clear or a mark from the UI stops the task, as in Airflow
 * ("State of this instance has been externally set to …").
 */
export interface JobIdentity {
  dagId: string;
  /** The try the job runs (recorded on the row: the host of each try, for its log). */
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  hostname: string;
  unixname: string;
  pid: number;
  executorClass: string | null;
}

/** The new job row of a try that starts at `now`. */
export function taskJobValues(who: JobIdentity, now: number) {
  return {
    dag_id: who.dagId,
    run_id: who.runId,
    task_id: who.taskId,
    map_index: who.mapIndex,
    try_number: who.tryNumber,
    state: 'running' as const,
    job_type: 'LocalTaskJob',
    start_date: now,
    end_date: null,
    latest_heartbeat: now,
    executor_class: who.executorClass,
    hostname: who.hostname,
    unixname: who.unixname,
    pid: who.pid,
  };
}

const JOB_VALUES = [
  'dagId',
  'runId',
  'taskId',
  'mapIndex',
  'tryNumber',
  'hostname',
  'unixname',
  'pid',
  'executorClass',
  'now',
] as const;
const insertJob = queryTemplate(JOB_VALUES, (db, v) => db.insertInto('job').values(taskJobValues(v, v.now)));
// PostgreSQL reports no insert id without RETURNING.
const insertJobReturningId = queryTemplate(JOB_VALUES, (db, v) =>
  db.insertInto('job').values(taskJobValues(v, v.now)).returning('id'),
);

/** The INSERT of a try's job row (see taskJobValues), compiled. */
export function insertTaskJobStatement(db: Kysely<Database>, who: JobIdentity, now: number): CompiledQuery {
  return insertJob.bind(db, jobValues(who, now));
}

function jobValues(who: JobIdentity, now: number) {
  const { dagId, runId, taskId, mapIndex, tryNumber, hostname, unixname, pid, executorClass } = who;
  return { dagId, runId, taskId, mapIndex, tryNumber, hostname, unixname, pid, executorClass, now };
}

export async function createTaskJob(
  db: Kysely<Database>,
  who: JobIdentity,
  now = Date.now(),
  dialect: DialectName = 'sqlite',
): Promise<number> {
  if (dialect === 'postgres') {
    const { rows } = await db.executeQuery<{ id: number }>(
      insertJobReturningId.bind(db, jobValues(who, now)),
    );
    if (rows[0] === undefined) throw new Error('The job row was not inserted');
    return Number(rows[0].id);
  }
  const inserted = await db.executeQuery(insertTaskJobStatement(db, who, now));
  return Number(inserted.insertId);
}

const endJob = queryTemplate(['jobId', 'state', 'now'], (db, v) =>
  db
    .updateTable('job')
    .set({ state: v.state, end_date: v.now, latest_heartbeat: v.now })
    .where('id', '=', v.jobId),
);

export async function endTaskJob(db: Kysely<Database>, jobId: number, state: JobState): Promise<void> {
  await db.executeQuery(endJob.bind(db, { jobId, state, now: Date.now() }));
}

/** One beat of a try's job row (the scheduler's zombie detection reads latest_heartbeat). */
export async function beatTaskJob(db: Kysely<Database>, jobId: number): Promise<void> {
  await db.updateTable('job').set({ latest_heartbeat: Date.now() }).where('id', '=', jobId).execute();
}
