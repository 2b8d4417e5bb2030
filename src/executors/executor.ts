/**
 * The executor interface. The scheduler hands task instances to an executor and learns how they
 * ended from the metadata DB (the task runner writes the final state itself) plus the events the
 * executor reports. Sequential, Local and the Redis-backed distributed executor implement it.
 */
import type { TaskInstanceKey, TaskWorkItem, WorkerEvent } from '../worker/work-item.js';

export type { TaskInstanceKey, TaskWorkItem } from '../worker/work-item.js';
/** How a try ran, as the executor saw it (the DB holds the authoritative task state). */
export type ExecutorEvent = WorkerEvent;

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
