import type { TaskInstanceState } from '../db/tables.js';
import type { TaskInstanceKey, TaskWorkItem } from './work-item.js';

/**
 * Messages between a local executor and its task processes (child_process IPC, JSON).
 * One task at a time per process: run → done; the executor then either sends the next run or lets
 * the process go (it exits after a done with reusable=false). The executor reports a task as
 * started when it sends the run (the process is idle and takes it at once): a message of its own
 * would cost both processes a wake-up per task.
 */
export interface RunMessage {
  type: 'run';
  key: TaskInstanceKey;
  fileloc: string;
  queuedTi?: TaskWorkItem['queuedTi'];
  /** Send the try's log lines to the parent as they are written (`dags test` prints them). */
  echo?: boolean;
}
export type ToChild = RunMessage | { type: 'terminate'; reason: string } | { type: 'shutdown' };

export type ToParent =
  /** hostname: the one the runner records on its task instances (core.hostname or the host's). */
  | { type: 'ready'; pid: number; hostname: string }
  | {
      type: 'done';
      key: TaskInstanceKey;
      /** False when the runner did not run the try (another runner had it, or the TI moved on). */
      ran: boolean;
      state: TaskInstanceState | null;
      message: string | null;
      /** The process may take another task (see task-process-main.ts for the rules). */
      reusable: boolean;
    }
  /**
   * The try's execute started and has an executionTimeout: the parent kills the process tree if
   * it is still running shortly after (sent only for tasks with a timeout).
   */
  | { type: 'executing'; key: TaskInstanceKey; executionTimeoutMs: number }
  /** Still starting: the metadata database is unreachable and the process waits for it. */
  | { type: 'waiting'; message: string }
  /** Log lines of the running try (only when its run message asked for echo). */
  | { type: 'log'; key: TaskInstanceKey; text: string }
  | { type: 'fatal'; message: string };

export function isToParent(value: unknown): value is ToParent {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}
export function isToChild(value: unknown): value is ToChild {
  return (
    typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
  );
}
