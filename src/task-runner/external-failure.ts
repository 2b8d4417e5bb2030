import type { Kysely } from 'kysely';
import type { Database, TaskInstanceState } from '../db/tables.js';
import { canRetry, nextRetryAt } from '../core/retry-policy.js';
import { openTaskLogger, taskLogPath } from './task-log.js';
import {
  finishTaskInstance,
  readTaskInstance,
  type TaskInstanceKeyLike,
} from '../db/task-store/ti-queries.js';
import { retrySettingsFromSerialized } from './run-task-instance.js';
import { endTaskJob } from '../db/task-store/job-queries.js';

/**
 * The task process died without recording how the try ended (killed by the OOM limit, a crash,
 * process.exit in task code). The executor records it instead, with the same rules the runner
 * uses: up_for_retry if tries remain, else failed. Only a TI still at this try and still
 * running/queued is touched; anything else was decided by someone else.
 */
export async function recordLostTry(
  db: Kysely<Database>,
  key: TaskInstanceKeyLike,
  reason: string,
  baseLogFolder: string,
): Promise<TaskInstanceState | null> {
  const ti = await readTaskInstance(db, key);
  if (!ti || ti.try_number !== key.tryNumber || (ti.state !== 'running' && ti.state !== 'queued'))
    return null;
  const end = Date.now();
  const duration = ti.start_date !== null ? (end - ti.start_date) / 1000 : null;
  const retry = await retrySettingsFromSerialized(db, key);
  const expected: TaskInstanceState[] = [ti.state];
  const log = openTaskLogger({ path: taskLogPath(baseLogFolder, key) });
  let state: TaskInstanceState | null;
  try {
    log.error(reason, 'executor');
    if (retry && canRetry(key.tryNumber, ti.max_tries)) {
      const at = nextRetryAt(retry, key.tryNumber, end);
      log.info(`Marking task as UP_FOR_RETRY (retry at ${new Date(at).toISOString()})`, 'executor');
      state = (await finishTaskInstance(
        db,
        key,
        { state: 'up_for_retry', end_date: end, duration, next_retry_at: at },
        expected,
      ))
        ? 'up_for_retry'
        : null;
    } else {
      log.info('Marking task as FAILED', 'executor');
      state = (await finishTaskInstance(
        db,
        key,
        { state: 'failed', end_date: end, duration, next_retry_at: null },
        expected,
      ))
        ? 'failed'
        : null;
    }
  } finally {
    log.close();
  }
  if (ti.job_id !== null) await endTaskJob(db, ti.job_id, 'failed').catch(() => undefined);
  return state;
}
