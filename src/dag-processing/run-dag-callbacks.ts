import type { Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
import type { Logger } from '../log.js';
import type { ParsePool } from './parse-pool.js';
import type { DagCallbackCall } from './parse-worker.js';

/** Requests handled per processor pass; the rest wait for the next pass. */
const PER_PASS = 50;

/**
 * Run the DAG-level callbacks the scheduler asked for (callback_request), each in a parse worker
 * under core.dagbag_import_timeout. A request is deleted before its callback runs, so a callback
 * runs at most once even with two processors; one that fails or times out is logged, not retried
 * (Airflow does the same). Returns how many ran.
 */
export async function runPendingDagCallbacks(
  db: Kysely<Database>,
  pool: ParsePool,
  log: Logger,
): Promise<number> {
  const pending = await db.selectFrom('callback_request').selectAll().orderBy('id').limit(PER_PASS).execute();
  let ran = 0;
  await Promise.all(
    pending.map(async (request) => {
      const taken = await db.deleteFrom('callback_request').where('id', '=', request.id).executeTakeFirst();
      if (Number(taken.numDeletedRows) !== 1) return; // another processor has it
      const run = await db
        .selectFrom('dag_run')
        .selectAll()
        .where('dag_id', '=', request.dag_id)
        .where('run_id', '=', request.run_id)
        .executeTakeFirst();
      if (!run) {
        log.warn(`${request.callback} of ${request.dag_id} ${request.run_id}: the run no longer exists`);
        return;
      }
      const call: DagCallbackCall = {
        dagId: request.dag_id,
        runId: request.run_id,
        callback: request.callback,
        reason: request.reason,
        run,
      };
      const result = await pool.runCallback(request.fileloc, call);
      if (result.cancelled) return;
      ran++;
      if (result.error)
        log.error(`${request.callback} of ${request.dag_id} ${request.run_id} failed: ${result.error}`);
      else
        log.info(`Ran ${request.callback} of ${request.dag_id} ${request.run_id} (${request.reason ?? ''})`);
    }),
  );
  return ran;
}
