import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Broker } from '../broker/connection.js';
import { connectChecked, watchConnection } from '../broker/connection.js';
import {
  CONTROL_CHANNEL,
  TASK_JOB_NAME,
  bullPriority,
  checkQueueName,
  jobIdFor,
  type ControlMessage,
  type TaskJobData,
  type TaskJobResult,
} from '../broker/protocol.js';
import type { MetadataDb } from '../db/index.js';
import type { TaskInstanceState } from '../db/tables.js';
import { ConflictError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { ExecutorEventQueue } from './event-queue.js';
import type { Executor, ExecutorEvent, TaskInstanceKey, TaskWorkItem } from './executor.js';

/**
 * CeleryExecutor (alias RedisExecutor): the scheduler side of distributed execution. Each try
 * becomes one BullMQ job on the queue named by the task's `queue` (Redis carries the work); workers
 * on any host take it (`updraft celery worker`), run it through their warm task processes, and the
 * runner records the outcome in the metadata DB as with LocalExecutor. The job's return value is a
 * copy of that outcome, delivered to the scheduler as a QueueEvents `completed` event (a blocking
 * stream read, not a poll) so waitForEvent wakes as soon as a try ends anywhere.
 *
 * What the broker may lose is recovered from the DB: a queued try whose job vanished (Redis restarted
 * without persistence, a flush) stays `queued` until [scheduler] task_queued_timeout, when the
 * scheduler resets it and queues a new try; a try whose worker died stops heart-beating and is
 * retried as a zombie. The runner's guarded claim (state queued at this try) keeps a try from ever
 * running twice, whatever Redis delivers.
 */
export interface CeleryExecutorOptions {
  broker: Broker;
  /** core.parallelism: tries queued or running through this executor at once. */
  parallelism: number;
  /** The scheduler's [core] dags_folder (workers map DAG file paths below it onto theirs). */
  dagsFolder: string;
  /** [celery] result_backend, only to say once that it is not used. */
  resultBackend: string;
  db: () => Promise<MetadataDb>;
  log: Logger;
}

interface QueueHandles {
  queue: Queue;
  events: QueueEvents;
  eventsConnection: Redis;
}

interface InFlight {
  key: TaskInstanceKey;
  queue: string;
  sentAt: number;
}

/** How often tries in flight are compared with the DB (events lost with a Redis restart). */
const RECONCILE_MS = 5000;

export class CeleryExecutor implements Executor {
  readonly name = 'CeleryExecutor';
  private connection: Redis | null = null;
  /** Per queue name, as a promise: tries sent at once share the first one's set-up. */
  private readonly queues = new Map<string, Promise<QueueHandles>>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly events = new ExecutorEventQueue();
  private started = false;
  private stopping = false;
  private reconcileTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: CeleryExecutorOptions) {}

  get openSlots(): number {
    return Math.max(0, this.options.parallelism - this.inFlight.size);
  }

  /** Tries sent and not yet reported back (tests, diagnostics). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async start(): Promise<void> {
    if (this.started) return;
    const { broker, log } = this.options;
    this.connection = await connectChecked(broker, log);
    watchConnection(this.connection, broker, log, 'CeleryExecutor');
    this.started = true;
    log.info(`CeleryExecutor: broker ${broker.target.display}, key prefix '${broker.prefix}'`);
    if (this.options.resultBackend)
      log.info(
        '[celery] result_backend is set but not used: task states live in the metadata DB, which is the only source of truth.',
      );
    this.reconcileTimer = setInterval(() => void this.reconcile(), RECONCILE_MS);
    this.reconcileTimer.unref();
  }

  async queue(item: TaskWorkItem): Promise<void> {
    if (!this.started || !this.connection) throw new ConflictError('CeleryExecutor was not started');
    if (this.stopping) throw new ConflictError('CeleryExecutor is stopping and takes no more tasks');
    const id = jobIdFor(item.key);
    if (this.inFlight.has(id)) {
      throw new ConflictError(
        `Task instance ${item.key.dagId}.${item.key.taskId} (${item.key.runId}, try ${item.key.tryNumber}) is already queued or running`,
      );
    }
    const { queue } = await this.queueFor(item.queue);
    const data: TaskJobData = { item, dagsFolder: this.options.dagsFolder };
    this.inFlight.set(id, { key: item.key, queue: item.queue, sentAt: Date.now() });
    try {
      await queue.add(TASK_JOB_NAME, data, {
        jobId: id,
        priority: bullPriority(item.priorityWeight),
        // Retries are the scheduler's decision (a new try, a new job), never BullMQ's.
        attempts: 1,
        removeOnComplete: true,
        removeOnFail: { age: 24 * 3600, count: 1000 },
      });
    } catch (error) {
      this.inFlight.delete(id);
      throw error;
    }
  }

  drainEvents(): ExecutorEvent[] {
    return this.events.drain();
  }

  waitForEvent(maxWaitMs: number): Promise<boolean> {
    return this.events.waitForFinished(maxWaitMs);
  }

  /**
   * A waiting job is taken out of Redis; a running one is asked to stop through the workers' control
   * channel; a job that is not in Redis any more (lost) is simply forgotten.
   */
  async terminate(key: TaskInstanceKey): Promise<void> {
    const id = jobIdFor(key);
    const entry = this.inFlight.get(id);
    if (!entry || !this.connection) return;
    const { queue } = await this.queueFor(entry.queue);
    const state = await queue.getJobState(id).catch(() => 'unknown' as const);
    if (state === 'active') {
      const message: ControlMessage = {
        type: 'terminate',
        key,
        reason: 'The task was terminated by the scheduler',
      };
      await this.connection.publish(this.controlChannel(), JSON.stringify(message));
      return;
    }
    if (state !== 'unknown' && state !== 'completed' && state !== 'failed')
      await queue.remove(id).catch(() => undefined);
    this.finish(id, { exitCode: null, signal: 'SIGTERM' });
  }

  async stop(_graceMs: number): Promise<void> {
    // Running tries belong to the workers: a stopping scheduler leaves them running (they record
    // their own end), and what is still queued in Redis is taken by the next scheduler's workers.
    this.stopping = true;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    for (const handles of this.queues.values()) {
      const opened = await handles.catch(() => null);
      if (!opened) continue;
      const { queue, events, eventsConnection } = opened;
      await events.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      // BullMQ does not close a connection it was given.
      eventsConnection.disconnect();
    }
    this.queues.clear();
    this.connection?.disconnect();
    this.connection = null;
  }

  // ---- internals ----

  private controlChannel(): string {
    return `${this.options.broker.prefix}:${CONTROL_CHANNEL}`;
  }

  private queueFor(name: string): Promise<QueueHandles> {
    const existing = this.queues.get(name);
    if (existing) return existing;
    const opening = this.openQueue(name);
    this.queues.set(name, opening);
    // A queue that could not be opened is tried again by the next try sent to it.
    opening.catch(() => {
      if (this.queues.get(name) === opening) this.queues.delete(name);
    });
    return opening;
  }

  private async openQueue(name: string): Promise<QueueHandles> {
    checkQueueName(name);
    const { broker, log } = this.options;
    const queue = new Queue(name, { connection: this.connection!, prefix: broker.prefix });
    const eventsConnection = broker.connect();
    watchConnection(eventsConnection, broker, log, `CeleryExecutor events (${name})`);
    const events = new QueueEvents(name, {
      connection: eventsConnection,
      prefix: broker.prefix,
      autorun: true,
    });
    events.on('error', () => undefined);
    events.on('completed', ({ jobId, returnvalue }) => this.onCompleted(jobId, returnvalue));
    events.on('failed', ({ jobId, failedReason }) => {
      log.warn(`A worker could not run job ${jobId}: ${failedReason}`);
      this.finish(jobId, { exitCode: 1, signal: null });
    });
    // Listening before the first job is added, so its completion cannot be missed.
    try {
      await events.waitUntilReady();
    } catch (error) {
      await events.close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      eventsConnection.disconnect();
      throw error;
    }
    return { queue, events, eventsConnection };
  }

  private onCompleted(jobId: string, raw: unknown): void {
    const result = parseResult(raw);
    if (result && !result.ran) {
      // The runner refused the try (another runner has it, or it moved on): nothing ended here,
      // so the scheduler is not asked to settle it.
      this.inFlight.delete(jobId);
      return;
    }
    this.finish(jobId, {
      exitCode: result?.state ? 0 : 1,
      signal: null,
      state: result?.state ?? null,
      ran: true,
    });
  }

  private finish(
    jobId: string,
    outcome: {
      exitCode: number | null;
      signal: string | null;
      state?: TaskInstanceState | null;
      ran?: boolean;
    },
  ): void {
    const entry = this.inFlight.get(jobId);
    if (!entry) return;
    this.inFlight.delete(jobId);
    this.events.push({ type: 'finished', key: entry.key, ...outcome });
  }

  /**
   * Tries in flight whose TI has moved on (its completion event was lost with a Redis restart, or
   * the scheduler reset it) are forgotten, so they do not hold parallelism slots for ever.
   */
  private async reconcile(): Promise<void> {
    const old = [...this.inFlight.entries()].filter(([, f]) => Date.now() - f.sentAt > RECONCILE_MS);
    if (old.length === 0) return;
    try {
      const db = (await this.options.db()).kysely;
      for (const [id, f] of old) {
        const ti = await db
          .selectFrom('task_instance')
          .select(['state', 'try_number'])
          .where('dag_id', '=', f.key.dagId)
          .where('run_id', '=', f.key.runId)
          .where('task_id', '=', f.key.taskId)
          .where('map_index', '=', f.key.mapIndex)
          .executeTakeFirst();
        const live =
          ti && ti.try_number === f.key.tryNumber && (ti.state === 'queued' || ti.state === 'running');
        if (!live) this.finish(id, { exitCode: null, signal: null, state: ti?.state ?? null, ran: true });
      }
    } catch (error) {
      this.options.log.debug(
        `CeleryExecutor: could not compare tries in flight with the DB: ${errorMessage(error)}`,
      );
    }
  }
}

function parseResult(raw: unknown): TaskJobResult | null {
  try {
    const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
    if (value && typeof value === 'object' && 'ran' in value) return value as TaskJobResult;
  } catch {
    // not ours
  }
  return null;
}
