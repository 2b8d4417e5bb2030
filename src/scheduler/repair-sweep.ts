import type { Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
import type { Executor } from '../executors/executor.js';
import type { Logger } from '../log.js';
import type { DagCache } from './dag-cache.js';
import { endRun } from './request-dag-callback.js';
import { SCHEDULER_JOB_TYPE } from './job.js';

/** The runner's job rows (job-queries.ts writes them). */
const LOCAL_TASK_JOB_TYPE = 'LocalTaskJob';
import { failTry } from './task-failure.js';

/**
 * The scheduler's repair sweep, run every few seconds: zombies, tasks stuck in queued, cleared tasks
 * whose runner has stopped, orphans of a dead scheduler, and runs past their dagrunTimeout.
 * Each repair is a state-guarded UPDATE, so running it on several schedulers at once is harmless.
 */
export interface RepairOptions {
  now: number;
  jobId: number;
  hostname: string;
  zombieThresholdMs: number;
  /** How often runners beat (job_heartbeat_sec): a dead local runner is noticed after a few beats. */
  runnerHeartbeatMs: number;
  queuedTimeoutMs: number;
  schedulerHealthMs: number;
  log: Logger;
}

function pidAlive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Running TIs whose runner stopped heartbeating: retry or fail them. Returns how many. */
export async function handleZombies(db: Kysely<Database>, dags: DagCache, o: RepairOptions): Promise<number> {
  const rows = await db
    .selectFrom('task_instance as ti')
    .leftJoin('job', 'job.id', 'ti.job_id')
    .selectAll('ti')
    .select([
      'job.latest_heartbeat as beat',
      'job.state as job_state',
      'job.hostname as job_host',
      'job.pid as job_pid',
    ])
    .where('ti.state', '=', 'running')
    .execute();
  let handled = 0;
  for (const row of rows) {
    const lastSign = row.beat ?? row.start_date ?? row.updated_at;
    const silentFor = o.now - lastSign;
    // A runner on this host whose process is gone is known dead after a few missed beats, without
    // waiting for the full threshold (this is what makes recovery after kill -9 quick).
    const deadHere =
      row.job_host === o.hostname && silentFor > 3 * o.runnerHeartbeatMs && !pidAlive(row.job_pid ?? row.pid);
    const ended =
      row.job_state !== null && row.job_state !== 'running' && silentFor > 3 * o.runnerHeartbeatMs;
    if (!(silentFor > o.zombieThresholdMs || deadHere || ended)) continue;
    const task = (await dags.get(row.dag_id, o.now))?.graph.byId.get(row.task_id);
    const state = await failTry(db, row, task, o.now);
    if (state) {
      handled++;
      o.log.warn(
        `Zombie: ${row.dag_id}.${row.task_id} (${row.run_id}, try ${row.try_number}) — no heartbeat for ${Math.round(silentFor / 1000)} s; marked ${state}`,
      );
      if (row.job_id !== null)
        await db
          .updateTable('job')
          .set({ state: 'failed', end_date: o.now })
          .where('id', '=', row.job_id)
          .where('state', '=', 'running')
          .execute();
    }
  }
  return handled;
}

/**
 * Queued TIs that no live scheduler will start: queued by a dead scheduler (adopt/reset after a
 * crash), or queued longer than task_queued_timeout. They go back to state none with one more
 * try allowed, so the next try number is new and a late runner of the old one cannot claim it.
 */
export async function resetOrphanedQueued(
  db: Kysely<Database>,
  executor: Executor,
  o: RepairOptions,
): Promise<number> {
  const recent = await db
    .selectFrom('job')
    .select(['id', 'hostname', 'pid'])
    .where('job_type', '=', SCHEDULER_JOB_TYPE)
    .where('state', '=', 'running')
    .where('latest_heartbeat', '>=', o.now - o.schedulerHealthMs)
    .execute();
  // A scheduler on this host whose process is gone (kill -9, OOM) is dead now, whatever its last
  // heartbeat says: its queued tries are re-queued at once rather than after the health threshold.
  // The same rule on every database (startSchedulerJob applies it where only one scheduler may run).
  const deadHere = recent.filter(
    (j) => j.id !== o.jobId && j.hostname === o.hostname && j.pid !== null && !pidAlive(j.pid),
  );
  const liveIds = new Set(recent.filter((j) => !deadHere.includes(j)).map((j) => j.id));
  liveIds.add(o.jobId);
  await db
    .updateTable('job')
    .set({ state: 'failed', end_date: o.now })
    .where('job_type', '=', SCHEDULER_JOB_TYPE)
    .where('state', '=', 'running')
    .where('latest_heartbeat', '<', o.now - o.schedulerHealthMs)
    .execute();
  if (deadHere.length > 0) {
    await db
      .updateTable('job')
      .set({ state: 'failed', end_date: o.now })
      .where(
        'id',
        'in',
        deadHere.map((j) => j.id),
      )
      .where('state', '=', 'running')
      .execute();
    for (const j of deadHere)
      o.log.warn(`Scheduler job ${j.id} (pid ${j.pid ?? '?'} on this host) is gone; adopting what it queued`);
  }
  const queued = await db.selectFrom('task_instance').selectAll().where('state', '=', 'queued').execute();
  let reset = 0;
  for (const ti of queued) {
    const orphan = ti.queued_by_job_id === null || !liveIds.has(ti.queued_by_job_id);
    const stuck = ti.queued_dttm !== null && o.now - ti.queued_dttm > o.queuedTimeoutMs;
    if (!orphan && !stuck) continue;
    if (stuck && ti.queued_by_job_id === o.jobId) {
      await executor.terminate({
        dagId: ti.dag_id,
        runId: ti.run_id,
        taskId: ti.task_id,
        mapIndex: ti.map_index,
        tryNumber: ti.try_number,
      });
    }
    const r = await db
      .updateTable('task_instance')
      .set({ state: null, max_tries: ti.max_tries + 1, queued_by_job_id: null, updated_at: o.now })
      .where('dag_id', '=', ti.dag_id)
      .where('run_id', '=', ti.run_id)
      .where('task_id', '=', ti.task_id)
      .where('map_index', '=', ti.map_index)
      .where('state', '=', 'queued')
      .where('try_number', '=', ti.try_number)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) {
      reset++;
      o.log.warn(
        `${ti.dag_id}.${ti.task_id} (${ti.run_id}): ${orphan ? 'queued by a scheduler that is gone' : `queued for more than ${o.queuedTimeoutMs / 1000} s`}; re-queueing`,
      );
    }
  }
  return reset;
}

/**
 * Running tries that a user changed from outside (marked success/failed/skipped, or cleared to
 * `restarting`) while their runner is still at work: the executor is asked to stop them. The runner
 * notices such a change itself on its next heartbeat, but only one that can reach the metadata DB,
 * and only every job_heartbeat_sec; this tells it through the executor (a CeleryExecutor publishes
 * on the workers' control channel). The TI keeps the state the user set: the runner's end is
 * guarded on `running`. Only tries this scheduler's executor sent are reached; others are left to
 * their runner's heartbeat. Returns how many were asked (again on each sweep until the job ends).
 */
export async function stopChangedRunning(db: Kysely<Database>, executor: Executor): Promise<number> {
  const rows = await db
    .selectFrom('job')
    .innerJoin('task_instance as ti', 'ti.job_id', 'job.id')
    .select(['ti.dag_id', 'ti.run_id', 'ti.task_id', 'ti.map_index', 'ti.try_number'])
    .where('job.job_type', '=', LOCAL_TASK_JOB_TYPE)
    .where('job.state', '=', 'running')
    .where('ti.state', 'in', ['success', 'failed', 'skipped', 'upstream_failed', 'restarting', 'removed'])
    .execute();
  for (const row of rows) {
    await executor.terminate({
      dagId: row.dag_id,
      runId: row.run_id,
      taskId: row.task_id,
      mapIndex: row.map_index,
      tryNumber: row.try_number,
    });
  }
  return rows.length;
}

/** Cleared while running (`restarting`): once the old runner has stopped, the TI may run again. */
export async function releaseRestarting(db: Kysely<Database>, o: RepairOptions): Promise<number> {
  const rows = await db
    .selectFrom('task_instance as ti')
    .leftJoin('job', 'job.id', 'ti.job_id')
    .select([
      'ti.dag_id',
      'ti.run_id',
      'ti.task_id',
      'ti.map_index',
      'ti.try_number',
      'job.state as job_state',
      'job.latest_heartbeat as beat',
    ])
    .where('ti.state', '=', 'restarting')
    .execute();
  let released = 0;
  for (const row of rows) {
    const stopped =
      row.job_state === null || row.job_state !== 'running' || o.now - (row.beat ?? 0) > o.zombieThresholdMs;
    if (!stopped) continue;
    const r = await db
      .updateTable('task_instance')
      .set({ state: null, updated_at: o.now })
      .where('dag_id', '=', row.dag_id)
      .where('run_id', '=', row.run_id)
      .where('task_id', '=', row.task_id)
      .where('map_index', '=', row.map_index)
      .where('state', '=', 'restarting')
      .executeTakeFirst();
    released += Number(r.numUpdatedRows);
  }
  return released;
}

/** Runs older than their DAG's dagrunTimeout fail; their unfinished tasks are skipped. */
export async function timeOutRuns(db: Kysely<Database>, dags: DagCache, o: RepairOptions): Promise<number> {
  const runs = await db
    .selectFrom('dag_run')
    .select(['dag_id', 'run_id', 'start_date'])
    .where('state', '=', 'running')
    .execute();
  let timedOut = 0;
  for (const run of runs) {
    const dag = (await dags.get(run.dag_id, o.now))?.dag;
    const timeout = dag?.dagrunTimeoutMs;
    if (!timeout || run.start_date === null || o.now - run.start_date <= timeout) continue;
    await db
      .updateTable('task_instance')
      .set({ state: 'skipped', end_date: o.now, updated_at: o.now })
      .where('dag_id', '=', run.dag_id)
      .where('run_id', '=', run.run_id)
      .where((eb) =>
        eb.or([
          eb('state', 'is', null),
          eb('state', 'in', [
            'scheduled',
            'queued',
            'running',
            'up_for_retry',
            'up_for_reschedule',
            'restarting',
          ]),
        ]),
      )
      .execute();
    const ended = await endRun(
      db,
      dag,
      { dagId: run.dag_id, runId: run.run_id },
      { state: 'failed', end_date: o.now, updated_at: o.now },
      'timed_out',
      o.now,
    );
    if (ended) {
      timedOut++;
      o.log.warn(`${run.dag_id} ${run.run_id}: exceeded dagrunTimeout (${timeout / 1000} s); marked failed`);
    }
  }
  return timedOut;
}
