/**
 * The executor interface. The scheduler hands task instances to an executor and learns how they
 * ended from the metadata DB (the task runner writes the final state itself) plus the events the
 * executor reports. Sequential, Local and the Redis-backed distributed executor implement it.
 */
import type { RunContextColumns } from '../dag-runs/run-info.js';
import type { TaskInstanceState } from '../db/tables.js';

export interface TaskInstanceKey {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
}

export interface TaskWorkItem {
  key: TaskInstanceKey;
  /** Absolute path of the DAG file that defines the task (the runner imports it). */
  fileloc: string;
  queue: string;
  priorityWeight: number;
  poolSlots: number;
  executionTimeoutMs: number | null;
  /**
   * The TI's max_tries and operator as queued, and its run's context columns when the scheduler
   * had them: the runner then reads neither the TI nor the run before it starts.
   */
  queuedTi?: { maxTries: number; operator: string | null; dagRun?: RunContextColumns };
}

/** How a task process ended, as the executor saw it (the DB holds the authoritative task state). */
export type ExecutorEvent =
  /** The try was handed to the process `pid` on `hostname`, which runs it now. */
  | { type: 'started'; key: TaskInstanceKey; pid: number; hostname: string }
  | {
      type: 'finished';
      key: TaskInstanceKey;
      exitCode: number | null;
      signal: string | null;
      /** The final state the runner (or the executor, for a lost try) wrote; null/absent if unknown. */
      state?: TaskInstanceState | null;
      /** false: the runner refused the try (not queued for it any more); nothing was changed. */
      ran?: boolean;
    };

export interface Executor {
  readonly name: string;
  /** Free slots right now (parallelism minus running). */
  readonly openSlots: number;
  start(): Promise<void>;
  /** Queue work; must not block on the task itself. */
  queue(item: TaskWorkItem): Promise<void>;
  /** Events since the last call (started/finished processes). */
  drainEvents(): ExecutorEvent[];
  /**
   * Resolve when a try finished (a `finished` event is pending: true) or after `maxWaitMs` (false).
   */
  waitForEvent(maxWaitMs: number): Promise<boolean>;
  /** Ask a running task to stop (clear / mark while running). */
  terminate(key: TaskInstanceKey): Promise<void>;
  /** Stop taking work; wait for running tasks up to the grace period, then kill them. */
  stop(graceMs: number): Promise<void>;
}
