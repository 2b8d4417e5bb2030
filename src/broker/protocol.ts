import { createHash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { TaskInstanceState } from '../db/tables.js';
import type { TaskInstanceKey, TaskWorkItem } from '../executors/executor.js';

/**
 * What travels through Redis between the CeleryExecutor (scheduler side) and the workers: one
 * BullMQ queue per task queue, one job per try, the try's outcome as the job's return value.
 * The metadata DB stays the source of truth: a job carries only what the worker needs to start the
 * try, and the outcome is a copy of what the runner already wrote.
 */
export const TASK_JOB_NAME = 'execute_task';
/** Pub/sub channel (under the key prefix) for "terminate this try" requests to the workers. */
export const CONTROL_CHANNEL = 'control';

export interface TaskJobData {
  item: TaskWorkItem;
  /** The scheduler's [core] dags_folder: a worker maps fileloc below it onto its own dags_folder. */
  dagsFolder: string;
}

export interface TaskJobResult {
  ran: boolean;
  state: TaskInstanceState | null;
  message: string | null;
  hostname: string;
}

export type ControlMessage = { type: 'terminate'; key: TaskInstanceKey; reason: string };

/** BullMQ priority: 1 is the highest; Airflow's priority_weight: higher runs first. */
const MAX_PRIORITY = 2_097_152;
export function bullPriority(priorityWeight: number): number {
  return Math.max(1, Math.min(MAX_PRIORITY, MAX_PRIORITY - Math.round(priorityWeight)));
}

/**
 * One job id per try: adding the same try twice is a no-op in BullMQ, so a try is in the broker at
 * most once. Hashed because run ids hold characters (':') that BullMQ refuses in ids.
 */
export function jobIdFor(key: TaskInstanceKey): string {
  return createHash('sha1')
    .update(`${key.dagId}\u0000${key.runId}\u0000${key.taskId}\u0000${key.mapIndex}\u0000${key.tryNumber}`)
    .digest('hex');
}

/** Queue names become Redis key parts: letters, digits, '_', '-', '.' only. */
export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    throw new ConfigError(
      `Queue name '${name}' is not usable: use letters, digits, '_', '-' and '.' only (at most 100).`,
    );
  }
  return name;
}
