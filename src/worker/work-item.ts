/**
 * What a worker runs: one try of one task instance (a TaskWorkItem), and what it reports back
 * (WorkerEvent). The scheduler's executors and a remote worker (which receives work items from a
 * queue) hand the same items to the process pool (process-pool.ts).
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

/** One string per try, for maps and sets of tries. */
export function keyString(key: TaskInstanceKey): string {
  return `${key.dagId}\u0000${key.runId}\u0000${key.taskId}\u0000${key.mapIndex}\u0000${key.tryNumber}`;
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
