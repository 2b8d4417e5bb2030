/**
 * What a worker runs: one try of one task instance (a TaskWorkItem), and what it reports back
 * (WorkerEvent). The scheduler's executors and a remote worker (which receives work items from a
 * queue) hand the same items to the process pool (process-pool.ts).
 */
import type { RunContextColumns } from '../core/run-context.js';
import type { TaskInstanceState } from '../core/states.js';
import type { TaskInstanceKey } from '../core/task-key.js';

export { keyString, type TaskInstanceKey } from '../core/task-key.js';

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

/** How a try ran, as the process pool saw it (the DB holds the authoritative task state). */
export type WorkerEvent = TaskStartedEvent | TaskFinishedEvent;

/** The try was handed to the process `pid` on `hostname`, which runs it now. */
export interface TaskStartedEvent {
  type: 'started';
  key: TaskInstanceKey;
  pid: number;
  hostname: string;
}

/** The try ended (or was dropped before it started: ran false). */
export interface TaskFinishedEvent {
  type: 'finished';
  key: TaskInstanceKey;
  exitCode: number | null;
  signal: string | null;
  /** The final state the runner (or the executor, for a lost try) wrote; null/absent if unknown. */
  state?: TaskInstanceState | null;
  /** false: the runner refused the try (not queued for it any more); nothing was changed. */
  ran?: boolean;
}
