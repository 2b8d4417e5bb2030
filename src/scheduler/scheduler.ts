import { hostname as osHostname } from 'node:os';
import type { ExpressionBuilder, Kysely } from 'kysely';
import type { AppContext } from '../context.js';
import { DagProcessor } from '../dag-processing/processor.js';
import { taskInstanceStore, type MetadataDb } from '../db/index.js';
import type { Database, DagRunRow } from '../db/tables.js';
import type { Executor } from '../executors/executor.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { DagRunCreator } from './create-runs.js';
import { runContextColumns, type RunContextColumns } from '../core/run-context.js';
import { DagCache } from './dag-cache.js';
import { createExecutor } from '../executors/index.js';
import {
  handleZombies,
  releaseRestarting,
  stopChangedRunning,
  resetOrphanedQueued,
  timeOutRuns,
  type RepairOptions,
} from './repair-sweep.js';
import { endJob, heartbeatJob, startSchedulerJob, type JobInfo } from './job.js';
import { queueScheduledTasks } from './queue-tasks.js';
import { mayChange, RunTiCache, scheduleRun } from './schedule-run.js';
import { failTry } from './task-failure.js';

export interface SchedulerOptions {
  /** Loops before exiting (-1: until stop()); `scheduler -n`. */
  numRuns?: number;
  /** Default: the executor core.executor names. */
  executor?: Executor;
  /** Run the DAG processor inside the scheduler (default: unless scheduler.standalone_dag_processor). */
  runDagProcessor?: boolean;
  /** Environment the task processes get. */
  env?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** Numbers a test or benchmark can read after a run. */
export interface SchedulerStats {
  loops: number;
  runsCreated: number;
  tasksQueued: number;
  zombies: number;
  /** Milliseconds spent per loop phase (for benchmarks and tuning). */
  phaseMs: Record<'create' | 'events' | 'evaluate' | 'queue' | 'repair' | 'idle', number>;
}

const RUN_CREATION_INTERVAL_MS = 1000;
const FULL_SWEEP_INTERVAL_MS = 1000;
const QUEUED_RUN_CHECK_MS = 50;

/**
 * The SchedulerJob. One loop does, in order: heartbeat; create due runs; start queued runs; read
 * executor events; evaluate the runs that changed (every running run once a second, the runs
 * whose tasks just finished at once — schedule_after_task_execution); queue what is ready; and
 * every few seconds the repairs (zombies, stuck queued, timeouts). It only sleeps when a loop
 * found nothing to do, and then in executor.waitForEvent, so a finishing task wakes it at once.
 */
export class Scheduler {
  readonly stats: SchedulerStats = {
    loops: 0,
    runsCreated: 0,
    tasksQueued: 0,
    zombies: 0,
    phaseMs: { create: 0, events: 0, evaluate: 0, queue: 0, repair: 0, idle: 0 },
  };
  private stopping = false;
  private wake: (() => void) | null = null;
  /** The highest id among the queued runs startQueuedRuns last read (see idle()). */
  private queuedSeenUpTo = 0;
  private readonly log: Logger;
  private job: JobInfo | undefined;
  private executor: Executor | undefined;

  constructor(
    private readonly ctx: AppContext,
    private readonly options: SchedulerOptions = {},
  ) {
    this.log = options.log ?? ctx.log.child('scheduler');
  }

  get jobId(): number | undefined {
    return this.job?.id;
  }

  /** Ask the loop to finish its current iteration and shut down. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  async run(): Promise<SchedulerStats> {
    const v = this.ctx.config.values;
    const metadata = await this.ctx.db();
    const db = metadata.kysely;
    const executor = this.options.executor ?? createExecutor(this.ctx, { env: this.options.env });
    this.executor = executor;
    this.job = await startSchedulerJob(metadata, {
      healthThresholdMs: v.scheduler.scheduler_health_check_threshold * 1000,
      rowLocking: v.scheduler.use_row_level_locking,
      hostname: v.core.hostname,
      executorClass: executor.name,
    });
    const job = this.job;
    this.log.info(
      `Scheduler started (job ${job.id}, pid ${job.pid}, ${executor.name}, ${metadata.capabilities.serverVersion})`,
    );
    const runProcessor = this.options.runDagProcessor ?? !v.scheduler.standalone_dag_processor;
    const processor = runProcessor ? new DagProcessor(this.ctx) : undefined;
    const processorDone = processor
      ?.run()
      .catch((error: unknown) => this.log.error(`DAG processor stopped: ${errorMessage(error)}`));
    let failed = false;
    try {
      await executor.start();
      await this.loop(metadata, db, executor, job);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      processor?.stop();
      await processorDone;
      await executor.stop(v.core.killed_task_cleanup_time * 1000).catch(() => undefined);
      await endJob(db, job.id, failed ? 'failed' : 'success').catch(() => undefined);
      this.log.info('Scheduler stopped');
    }
    return this.stats;
  }

  private async loop(
    metadata: MetadataDb,
    db: Kysely<Database>,
    executor: Executor,
    job: JobInfo,
  ): Promise<void> {
    const v = this.ctx.config.values;
    const numRuns = this.options.numRuns ?? v.scheduler.num_runs;
    const dags = new DagCache(db);
    const creator = new DagRunCreator(db, dags);
    const skipLocked = metadata.capabilities.skipLocked && v.scheduler.use_row_level_locking;
    const taskStore = taskInstanceStore(metadata);
    const heartbeatMs = v.scheduler.scheduler_heartbeat_sec * 1000;
    const idleMs = Math.max(10, v.scheduler.scheduler_idle_sleep_time * 1000);
    const repair: Omit<RepairOptions, 'now'> = {
      jobId: job.id,
      hostname: job.hostname || osHostname(),
      zombieThresholdMs: v.scheduler.scheduler_zombie_task_threshold * 1000,
      runnerHeartbeatMs: v.scheduler.job_heartbeat_sec * 1000,
      queuedTimeoutMs: v.scheduler.task_queued_timeout * 1000,
      schedulerHealthMs: v.scheduler.scheduler_health_check_threshold * 1000,
      log: this.log,
    };
    const repairIntervalMs = Math.max(500, Math.min(10_000, repair.runnerHeartbeatMs));
    let lastHeartbeat = Date.now();
    let lastCreate = 0;
    let lastSweep = 0;
    let lastRepair = 0;
    let wakeAt: number | null = null;
    let lastQueuedCheck = 0;
    let startQueuedSoon = true;
    const dirty = new Set<string>();
    const tiCaches = new Map<string, RunTiCache>();
    // The context columns of the running runs as last read (they never change): sent with each
    // queued task, so its runner need not read the run.
    const runContexts = new Map<string, RunContextColumns>();

    // Adopt or reset what a crashed scheduler left behind before doing anything else.
    await resetOrphanedQueued(db, executor, { ...repair, now: Date.now() });

    while (!this.stopping && (numRuns < 0 || this.stats.loops < numRuns)) {
      this.stats.loops++;
      let now = Date.now();
      let work = 0;
      try {
        if (now - lastHeartbeat >= heartbeatMs) {
          await heartbeatJob(db, job.id, now);
          lastHeartbeat = now;
        }
        const phase = this.stats.phaseMs;
        let mark = performance.now();
        const lap = (name: keyof SchedulerStats['phaseMs']) => {
          const t = performance.now();
          phase[name] += t - mark;
          mark = t;
        };
        if (now - lastCreate >= RUN_CREATION_INTERVAL_MS) {
          const created = await creator.createDue({
            now,
            maxPerLoop: v.scheduler.max_dagruns_to_create_per_loop,
            jobId: job.id,
            log: this.log,
          });
          this.stats.runsCreated += created;
          work += created;
          lastCreate = created > 0 ? 0 : now;
          if (created > 0) startQueuedSoon = true;
        }
        // Runs are queued by triggers from other processes, by the creator above, or wait for a
        // slot a finishing run frees: a look every QUEUED_RUN_CHECK_MS (and right after a run
        // finished) starts them without a query on every loop of a busy scheduler.
        if (startQueuedSoon || now - lastQueuedCheck >= QUEUED_RUN_CHECK_MS) {
          startQueuedSoon = false;
          lastQueuedCheck = now;
          work += await this.startQueuedRuns(db, dags, now, dirty);
        }
        lap('create');

        for (const event of executor.drainEvents()) {
          if (event.type !== 'finished') continue;
          const key = runKey(event.key.dagId, event.key.runId);
          dirty.add(key);
          work++;
          // The local executor reports the state the runner recorded: a final one goes straight
          // into the run's cache (no read needed to decide what comes next); anything else is
          // read back, and an unknown or unfinished one is settled here (checkFinished).
          const reported = event.state;
          const cache = tiCaches.get(key);
          if (reported === 'success' || reported === 'failed' || reported === 'skipped') {
            cache?.apply(event.key.taskId, event.key.mapIndex, reported);
            continue;
          }
          if (cache) cache.stale = true;
          if (
            reported === undefined ||
            reported === null ||
            reported === 'running' ||
            reported === 'queued'
          ) {
            await this.checkFinished(db, dags, event.key, now);
          }
        }
        lap('events');

        const sweep = now - lastSweep >= FULL_SWEEP_INTERVAL_MS || (wakeAt !== null && wakeAt <= now);
        // A run whose trusted cache says no decision could change anything is neither read nor
        // locked (the middle of a wide fan-out: each finished task is one of many the next waits
        // for). Under load every request costs milliseconds of waiting, and every task waits for
        // this loop. The once-a-second sweep still reads every run.
        if (!sweep) await dropUnchangeable(dirty, tiCaches, dags, now);
        if (sweep || dirty.size > 0) {
          let runs = await this.runningRuns(db, sweep ? null : dirty);
          if (sweep) {
            lastSweep = now;
            wakeAt = null;
            const live = new Set(runs.map((r) => runKey(r.dag_id, r.run_id)));
            for (const k of tiCaches.keys()) if (!live.has(k)) tiCaches.delete(k);
            for (const k of runContexts.keys()) if (!live.has(k)) runContexts.delete(k);
          }
          for (const run of runs) runContexts.set(runKey(run.dag_id, run.run_id), runContextColumns(run));
          dirty.clear();
          now = Date.now();
          for (const run of runs) {
            const cached = await dags.get(run.dag_id, now);
            if (!cached) continue;
            const key = runKey(run.dag_id, run.run_id);
            let cache = tiCaches.get(key);
            if (!cache) tiCaches.set(key, (cache = new RunTiCache()));
            // The once-a-second sweep reads everything again: the safety net for the cache.
            if (sweep) cache.full = true;
            const runOptions = { now, maxMapLength: v.core.max_map_length, log: this.log, cache };
            // With several schedulers each run is decided by one of them at a time: the row lock
            // is held for the decision, and a run another scheduler holds is skipped this loop.
            const res = skipLocked
              ? await db.transaction().execute(async (trx) => {
                  const locked = await trx
                    .selectFrom('dag_run')
                    .selectAll()
                    .where('id', '=', run.id)
                    .where('state', '=', 'running')
                    .forUpdate()
                    .skipLocked()
                    .executeTakeFirst();
                  return locked ? scheduleRun(trx, locked, cached, runOptions) : null;
                })
              : await scheduleRun(db, run, cached, runOptions);
            if (!res) {
              cache.full = true;
              continue;
            }
            if (res.finished) {
              tiCaches.delete(key);
              runContexts.delete(key);
              startQueuedSoon = true;
            }
            // An expansion renumbers the placeholder row: read the run afresh next time.
            if (res.again) cache.full = true;
            work += res.changed + (res.finished ? 1 : 0);
            if (res.again) dirty.add(runKey(run.dag_id, run.run_id));
            if (res.nextWakeAt !== null) wakeAt = Math.min(wakeAt ?? Infinity, res.nextWakeAt);
          }
          runs = [];
        }
        lap('evaluate');

        const queued = await queueScheduledTasks(taskStore, executor, dags, {
          now: Date.now(),
          jobId: job.id,
          skipLocked,
          runContext: (dagId, runId) => runContexts.get(runKey(dagId, runId)),
          log: this.log,
        });
        this.stats.tasksQueued += queued;
        work += queued;
        lap('queue');

        if (now - lastRepair >= repairIntervalMs) {
          lastRepair = now;
          const h = { ...repair, now };
          const zombies = await handleZombies(db, dags, h);
          this.stats.zombies += zombies;
          work += zombies;
          work += await resetOrphanedQueued(db, executor, h);
          // Not counted as work: the same tries are asked again on each sweep until they end.
          await stopChangedRunning(db, executor);
          work += await releaseRestarting(db, h);
          work += await timeOutRuns(db, dags, h);
          lap('repair');
        }
      } catch (error) {
        // A DB hiccup must not kill the scheduler: log, back off a little, carry on.
        this.log.error(`Scheduler loop error: ${errorMessage(error)}`);
        if (process.env.UPDRAFT_DEBUG && error instanceof Error) this.log.error(error.stack ?? '');
        await new Promise((r) => setTimeout(r, 500));
      }
      if (work === 0 && !this.stopping) {
        const untilPeriodic =
          Math.min(
            lastSweep + FULL_SWEEP_INTERVAL_MS,
            lastCreate + RUN_CREATION_INTERVAL_MS,
            lastHeartbeat + heartbeatMs,
            lastRepair + repairIntervalMs,
            wakeAt ?? Infinity,
          ) - Date.now();
        const t = performance.now();
        await this.idle(db, executor, Math.max(1, Math.min(idleMs, untilPeriodic)));
        this.stats.phaseMs.idle += performance.now() - t;
      }
    }
  }

  /**
   * Nothing to do: wait up to `ms` for a try to end (or for stop()). Meanwhile look for newly
   * queued runs every QUEUED_RUN_CHECK_MS, with one indexed read: a run triggered by another process
   * (`dags trigger`, the REST API, the UI) then starts within that time, not at the next periodic
   * wake-up up to scheduler_idle_sleep_time later. Runs that were already queued when the loop last
   * looked (held back by maxActiveRuns) do not end the wait: they start when a run finishes.
   */
  private async idle(db: Kysely<Database>, executor: Executor, ms: number): Promise<void> {
    const until = performance.now() + ms;
    for (;;) {
      const left = until - performance.now();
      if (left <= 0 || this.stopping) return;
      if (await this.sleep(executor, Math.min(left, QUEUED_RUN_CHECK_MS))) return;
      // A read that fails is not the idle wait's to report: the next loop meets the same database.
      if (left > QUEUED_RUN_CHECK_MS && (await hasNewQueuedRun(db, this.queuedSeenUpTo).catch(() => false)))
        return;
    }
  }

  /** Wait up to `ms`; true when a try ended or stop() was called, false when the time ran out. */
  private sleep(executor: Executor, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (woken: boolean) => {
        if (done) return;
        done = true;
        this.wake = null;
        resolve(woken);
      };
      this.wake = () => finish(true);
      void executor.waitForEvent(ms).then(finish);
    });
  }

  /** Queued runs start when their DAG has fewer than maxActiveRuns running. */
  private async startQueuedRuns(
    db: Kysely<Database>,
    dags: DagCache,
    now: number,
    dirty: Set<string>,
  ): Promise<number> {
    const all = await db
      .selectFrom('dag_run')
      .select(['id', 'dag_id', 'run_id', 'start_date', pausedFlag])
      .where('state', '=', 'queued')
      .orderBy('logical_date')
      .execute();
    for (const r of all) this.queuedSeenUpTo = Math.max(this.queuedSeenUpTo, r.id);
    // A paused DAG's runs wait, queued, until it is unpaused (as in Airflow).
    const queued = all.filter((r) => !r.paused);
    if (queued.length === 0) return 0;
    const running = await db
      .selectFrom('dag_run')
      .select(['dag_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('state', '=', 'running')
      .where('dag_id', 'in', [...new Set(queued.map((r) => r.dag_id))])
      .groupBy('dag_id')
      .execute();
    const active = new Map(running.map((r) => [r.dag_id, Number(r.n)]));
    let started = 0;
    for (const run of queued) {
      const cached = await dags.get(run.dag_id, now);
      if (!cached) continue;
      const n = active.get(run.dag_id) ?? 0;
      if (n >= cached.dag.maxActiveRuns) continue;
      const r = await db
        .updateTable('dag_run')
        .set({ state: 'running', start_date: run.start_date ?? now, updated_at: now })
        .where('dag_id', '=', run.dag_id)
        .where('run_id', '=', run.run_id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) {
        active.set(run.dag_id, n + 1);
        dirty.add(runKey(run.dag_id, run.run_id));
        started++;
      }
    }
    return started;
  }

  private async runningRuns(db: Kysely<Database>, only: Set<string> | null): Promise<DagRunRow[]> {
    // A paused DAG's running runs are not decided: their unstarted tasks wait (as in Airflow).
    let q = db
      .selectFrom('dag_run')
      .selectAll()
      .where('state', '=', 'running')
      .where(({ not, exists, selectFrom }) => not(exists(pausedDag(selectFrom))));
    if (only) {
      const dagIds = [...new Set([...only].map((k) => k.split('\u0000')[0]!))];
      q = q.where('dag_id', 'in', dagIds);
    }
    const rows = await q.orderBy('logical_date').execute();
    return only ? rows.filter((r) => only.has(runKey(r.dag_id, r.run_id))) : rows;
  }

  /**
   * A task process ended. The runner (or the executor for a lost process) records the state; if
   * the TI is still queued/running at that try, nobody did: fail or retry it here.
   */
  private async checkFinished(
    db: Kysely<Database>,
    dags: DagCache,
    key: { dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number },
    now: number,
  ) {
    const ti = await db
      .selectFrom('task_instance')
      .selectAll()
      .where('dag_id', '=', key.dagId)
      .where('run_id', '=', key.runId)
      .where('task_id', '=', key.taskId)
      .where('map_index', '=', key.mapIndex)
      .executeTakeFirst();
    if (!ti || ti.try_number !== key.tryNumber || (ti.state !== 'running' && ti.state !== 'queued')) return;
    const task = (await dags.get(key.dagId, now))?.graph.byId.get(key.taskId);
    const state = await failTry(db, ti, task, now);
    if (state)
      this.log.warn(
        `${key.dagId}.${key.taskId} (${key.runId}): the executor reports the task ended but it is still ${ti.state}; marked ${state}`,
      );
  }
}

/** The paused `dag` row of the dag_run in the outer query (none when the DAG is not paused). */
function pausedDag(selectFrom: ExpressionBuilder<Database, 'dag_run'>['selectFrom']) {
  return selectFrom('dag')
    .select('dag.dag_id')
    .whereRef('dag.dag_id', '=', 'dag_run.dag_id')
    .where('dag.is_paused', '=', 1);
}
const pausedFlag = (eb: ExpressionBuilder<Database, 'dag_run'>) =>
  eb.exists(pausedDag(eb.selectFrom)).as('paused');

function runKey(dagId: string, runId: string): string {
  return `${dagId}\u0000${runId}`;
}

/** A queued run with an id above `seenUpTo` (a run queued since startQueuedRuns last looked). */
async function hasNewQueuedRun(db: Kysely<Database>, seenUpTo: number): Promise<boolean> {
  const row = await db
    .selectFrom('dag_run')
    .select('id')
    .where('state', '=', 'queued')
    .where('id', '>', seenUpTo)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Take out of `dirty` the runs whose cache shows that deciding them now would change nothing. */
async function dropUnchangeable(
  dirty: Set<string>,
  tiCaches: Map<string, RunTiCache>,
  dags: DagCache,
  now: number,
): Promise<void> {
  for (const key of dirty) {
    const cache = tiCaches.get(key);
    if (!cache) continue;
    const cached = await dags.get(key.slice(0, key.indexOf('\u0000')), now);
    if (cached && !mayChange(cached, cache, now)) dirty.delete(key);
  }
}
