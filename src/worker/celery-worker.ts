import type { Server } from 'node:http';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppContext } from '../context.js';
import { brokerFromConfig, connectChecked, watchConnection, type Broker } from '../broker/connection.js';
import {
  CONTROL_CHANNEL,
  TASK_JOB_NAME,
  checkQueueName,
  type ControlMessage,
  type TaskJobData,
  type TaskJobResult,
} from '../broker/protocol.js';
import type { MetadataDb } from '../db/index.js';
import { ConflictError, errorMessage } from '../errors.js';
import { ProcessPool } from './process-pool.js';
import { keyString, type TaskInstanceKey } from './work-item.js';
import type { Logger } from '../log.js';
import { recordLostTry } from '../task-runner/external-failure.js';
import { DagFileChecker, localFileloc } from './dag-file-check.js';
import { startLogServer } from './log-server.js';
import { endWorkerJob, heartbeatWorkerJob, startWorkerJob } from './worker-job.js';

/**
 * `updraft celery worker`: takes tries from the Redis queues it listens to (BullMQ workers, one
 * per queue, sharing [celery] worker_concurrency slots) and runs each through the same warm task
 * processes and task runner as LocalExecutor; the runner records the outcome in the metadata DB,
 * and the job's return value carries a copy back to the scheduler.
 *
 * Liveness: a WorkerJob row beats every job_heartbeat_sec. Each running try has its own
 * LocalTaskJob heartbeat (written by the runner), so a worker that dies (kill -9, a lost host)
 * leaves zombies the scheduler retries per their retries; BullMQ's lock on the job expires and the
 * job is re-delivered, but the runner's guarded claim refuses a try that is not queued any more.
 *
 * Stopping (SIGTERM, `celery stop`): take no more work, let running tries finish within
 * [celery] worker_grace_period, then end them (they are recorded as failed tries and retried).
 */
export interface CeleryWorkerOptions {
  queues: string[];
  concurrency: number;
  hostname: string;
  /** Seconds running tries get to finish when the worker stops. */
  graceSeconds: number;
  /** Serve task logs ([logging] worker_log_server_port; 0: not at all). */
  logServerPort: number;
  logServerHost?: string;
  env?: NodeJS.ProcessEnv;
}

export class CeleryWorker {
  private readonly log: Logger;
  private readonly broker: Broker;
  private readonly bullWorkers: Worker[] = [];
  private readonly connections: Redis[] = [];
  private pool: ProcessPool | null = null;
  private metadata: MetadataDb | null = null;
  private dagFiles: DagFileChecker | null = null;
  private jobId: number | null = null;
  private logServer: Server | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopRequested: (() => void) | null = null;
  private stopping = false;
  private freeSlots: number;
  private readonly slotWaiters: (() => void)[] = [];
  /** Tries this worker runs now, for tests and `celery stop` diagnostics. */
  readonly running = new Set<string>();

  constructor(
    private readonly ctx: AppContext,
    private readonly options: CeleryWorkerOptions,
  ) {
    this.log = ctx.log.child('worker');
    this.broker = brokerFromConfig(ctx.config.values);
    this.freeSlots = options.concurrency;
    for (const q of options.queues) checkQueueName(q);
  }

  /** Run until stop(); throws at start when Redis or the metadata DB cannot be used. */
  async run(): Promise<void> {
    const { hostname } = this.options;
    const connection = await connectChecked(this.broker, this.log);
    this.connections.push(connection);
    watchConnection(connection, this.broker, this.log, 'worker');
    const untilStop = new Promise<void>((resolve) => {
      this.stopRequested = resolve;
    });
    // From here on every failure releases what was opened: the watched Redis connection alone
    // keeps the process alive, so a metadata DB that refuses the worker at start (a pg_hba.conf
    // without this host, a wrong password) left it hanging after printing the error, instead of
    // exiting with the error's code.
    try {
      await this.start(hostname);
      if (!this.stopping) await untilStop;
      await this.shutdown();
    } finally {
      await this.release();
    }
  }

  private async start(hostname: string): Promise<void> {
    const c = this.ctx.config.values;
    if (c.celery.result_backend)
      this.log.info('[celery] result_backend is set but not used: task states live in the metadata DB.');
    this.metadata = await this.ctx.db();
    this.dagFiles = new DagFileChecker(this.metadata.kysely);
    this.jobId = await startWorkerJob(this.metadata.kysely, { hostname, executorClass: 'CeleryExecutor' });
    this.pool = new ProcessPool({
      size: this.options.concurrency,
      warmProcesses: Math.min(c.core.task_runner_warm_processes, this.options.concurrency),
      maxOldSpaceSizeMb: c.core.task_runner_max_old_space_size,
      maxTasksPerProcess: c.core.task_runner_max_tasks_per_process,
      baseLogFolder: c.logging.base_log_folder,
      killGraceMs: c.core.killed_task_cleanup_time * 1000,
      // What the task processes load: this worker's configuration, and its host name on the tries.
      env: {
        ...(this.options.env ?? process.env),
        AIRFLOW_HOME: this.ctx.config.home,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: c.database.sql_alchemy_conn,
        AIRFLOW__LOGGING__BASE_LOG_FOLDER: c.logging.base_log_folder,
        AIRFLOW__CORE__FERNET_KEY: c.core.fernet_key,
        AIRFLOW__CORE__HOSTNAME: hostname,
      },
      executorClass: 'CeleryExecutor',
      name: `Worker ${hostname}`,
      db: () => this.ctx.db(),
      log: this.log,
    });
    await this.pool.start();
    this.startHeartbeat();
    if (this.options.logServerPort > 0) {
      this.logServer = await startLogServer({
        host: this.options.logServerHost ?? '0.0.0.0',
        port: this.options.logServerPort,
        baseLogFolder: c.logging.base_log_folder,
        secretKey: c.webserver.secret_key,
        log: this.log,
      });
    }
    await this.listenForControl();
    for (const queue of this.options.queues) this.bullWorkers.push(this.createBullWorker(queue));
    await Promise.all(this.bullWorkers.map((w) => w.waitUntilReady()));
    this.log.info(
      `Worker ${hostname} (job ${this.jobId}, pid ${process.pid}) listening on ${this.options.queues.join(', ')} at ${this.broker.target.display}, concurrency ${this.options.concurrency}` +
        (this.logServer ? `, logs served on port ${this.options.logServerPort}` : ''),
    );
  }

  /** Ask the worker to stop (SIGTERM, SIGINT): it drains within the grace period, then returns from run(). */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(
      `Worker stopping: no new tries; ${this.running.size} running get ${this.options.graceSeconds} s to finish`,
    );
    this.stopRequested?.();
  }

  // ---- internals ----

  private createBullWorker(queue: string): Worker {
    const connection = this.broker.connect();
    // BullMQ does not close a connection it was given.
    this.connections.push(connection);
    watchConnection(connection, this.broker, this.log, `worker queue ${queue}`);
    const worker = new Worker(queue, (job: Job<TaskJobData>) => this.process(job), {
      connection,
      prefix: this.broker.prefix,
      concurrency: this.options.concurrency,
      autorun: true,
    });
    worker.on('error', (error) => this.log.debug(`queue ${queue}: ${error.message}`));
    return worker;
  }

  private async process(job: Job<TaskJobData>): Promise<TaskJobResult> {
    const { hostname } = this.options;
    if (job.name !== TASK_JOB_NAME) throw new Error(`Unknown job ${job.name}`);
    const { item, dagsFolder } = job.data;
    await this.acquireSlot();
    const k = keyString(item.key);
    try {
      const workerDags = this.ctx.config.values.core.dags_folder;
      const problem = await this.waitForDb('DAG file check', () =>
        this.dagFiles!.check({
          fileloc: item.fileloc,
          schedulerDagsFolder: dagsFolder,
          workerDagsFolder: workerDags,
          hostname,
        }),
      );
      if (problem) {
        this.log.error(`${item.key.dagId}.${item.key.taskId} (${item.key.runId}): ${problem}`);
        const state = await this.waitForDb('recording the failed try', () =>
          this.failBeforeStart(item.key, problem),
        );
        return { ran: state !== null, state, message: problem, hostname };
      }
      this.running.add(k);
      let outcome;
      try {
        outcome = await this.pool!.run({
          ...item,
          fileloc: localFileloc(item.fileloc, dagsFolder, workerDags),
        });
      } catch (error) {
        if (error instanceof ConflictError)
          return { ran: false, state: null, message: error.message, hostname };
        throw error;
      }
      return { ran: outcome.ran !== false, state: outcome.state ?? null, message: null, hostname };
    } finally {
      this.running.delete(k);
      this.releaseSlot();
    }
  }

  /**
   * The metadata DB restarting (or briefly unreachable) holds a try back instead of failing it: the
   * work is retried until the DB answers (up to five minutes), other errors pass at once.
   */
  private async waitForDb<T>(what: string, work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + 300_000;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await work();
        if (attempt > 1) this.log.info(`${what}: the metadata DB answers again`);
        return result;
      } catch (error) {
        if (!isConnectionError(error) || Date.now() > deadline) throw error;
        if (attempt === 1)
          this.log.warn(`${what}: the metadata DB does not answer (${errorMessage(error)}); waiting`);
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  /** A try that cannot start here is recorded as a failed try (retried per its retries) on this host. */
  private async failBeforeStart(key: TaskInstanceKey, why: string) {
    const db = this.metadata!.kysely;
    await db
      .updateTable('task_instance')
      .set({ hostname: this.options.hostname })
      .where('dag_id', '=', key.dagId)
      .where('run_id', '=', key.runId)
      .where('task_id', '=', key.taskId)
      .where('map_index', '=', key.mapIndex)
      .where('try_number', '=', key.tryNumber)
      .where('state', '=', 'queued')
      .execute();
    return recordLostTry(db, key, why, this.ctx.config.values.logging.base_log_folder);
  }

  private acquireSlot(): Promise<void> {
    if (this.freeSlots > 0) {
      this.freeSlots -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.freeSlots += 1;
  }

  private startHeartbeat(): void {
    const everyMs = this.ctx.config.values.scheduler.job_heartbeat_sec * 1000;
    let failing = false;
    this.heartbeat = setInterval(() => {
      heartbeatWorkerJob(this.metadata!.kysely, this.jobId!)
        .then(() => {
          if (failing) this.log.info('Worker heartbeat: the metadata DB answers again');
          failing = false;
        })
        .catch((error: unknown) => {
          if (!failing) this.log.warn(`Worker heartbeat failed (will keep trying): ${errorMessage(error)}`);
          failing = true;
        });
    }, everyMs);
  }

  /** terminate requests from the scheduler (a try cleared or timed out while running here). */
  private async listenForControl(): Promise<void> {
    const subscriber = this.broker.connect();
    this.connections.push(subscriber);
    subscriber.on('error', () => undefined);
    await subscriber.connect();
    await subscriber.subscribe(`${this.broker.prefix}:${CONTROL_CHANNEL}`);
    subscriber.on('message', (_channel: string, raw: string) => {
      let message: ControlMessage;
      try {
        message = JSON.parse(raw) as ControlMessage;
      } catch {
        return;
      }
      if (message.type === 'terminate' && this.pool?.has(message.key)) void this.pool?.terminate(message.key);
    });
  }

  private async shutdown(): Promise<void> {
    // close() stops fetching at once and resolves when the active jobs have returned; the pool lets
    // running tries finish within the grace period, then ends them (recorded as failed tries, so
    // they are retried per their retries), which lets those jobs return.
    const closing = Promise.all(this.bullWorkers.map((w) => w.close()));
    await this.pool?.stop(this.options.graceSeconds * 1000);
    await closing;
  }

  private async release(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.all(this.bullWorkers.map((w) => w.close(true).catch(() => undefined)));
    await this.pool?.stop(0).catch(() => undefined);
    if (this.logServer) await new Promise<void>((r) => this.logServer!.close(() => r()));
    for (const c of this.connections) c.disconnect();
    if (this.jobId !== null && this.metadata)
      await endWorkerJob(this.metadata.kysely, this.jobId, this.stopping ? 'success' : 'failed').catch(
        () => undefined,
      );
  }
}

/** The database is down or restarting (as opposed to a query that is wrong). */
function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'PROTOCOL_CONNECTION_LOST',
      '57P01',
      '57P02',
      '57P03',
      'ER_SERVER_SHUTDOWN',
    ].includes(code)
  )
    return true;
  return /Connection terminated|server closed the connection|Connection lost|connect ECONNREFUSED|the database system is (starting up|shutting down)/i.test(
    String(e?.message ?? ''),
  );
}
