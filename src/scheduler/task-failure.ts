import type { Kysely } from 'kysely';
import type { SerializedTask } from '../dag/serialized.js';
import type { Database, TaskInstanceRow, TaskInstanceState } from '../db/tables.js';
import { canRetry, nextRetryAt } from '../core/retry-policy.js';

/**
 * A try ended without the runner recording it (zombie, lost process): up_for_retry when tries
 * remain, else failed, with Airflow's retry rules. Guarded on the TI still being at that try and
 * state, so whoever decided first wins.
 */
export async function failTry(
  db: Kysely<Database>,
  ti: TaskInstanceRow,
  task: SerializedTask | undefined,
  now: number,
): Promise<TaskInstanceState | null> {
  const retry = task !== undefined && canRetry(ti.try_number, ti.max_tries);
  const update = retry
    ? { state: 'up_for_retry' as const, next_retry_at: nextRetryAt(task, ti.try_number, now) }
    : { state: 'failed' as const, next_retry_at: null };
  const r = await db
    .updateTable('task_instance')
    .set({
      ...update,
      end_date: now,
      duration: ti.start_date !== null ? (now - ti.start_date) / 1000 : null,
      updated_at: now,
    })
    .where('dag_id', '=', ti.dag_id)
    .where('run_id', '=', ti.run_id)
    .where('task_id', '=', ti.task_id)
    .where('map_index', '=', ti.map_index)
    .where('try_number', '=', ti.try_number)
    .where('state', '=', ti.state)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1 ? update.state : null;
}
