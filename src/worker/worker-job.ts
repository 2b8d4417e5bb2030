import { userInfo } from 'node:os';
import type { Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
import { endJob, heartbeatJob } from '../scheduler/job.js';

/**
 * A worker's liveness row in the job table (job_type WorkerJob), beating every job_heartbeat_sec:
 * `jobs check --job-type WorkerJob`, the jobs page and /api/v1/jobs show the workers from it, and
 * the webserver finds the host serving a try's log (the TI's hostname) among them.
 */
export const WORKER_JOB_TYPE = 'WorkerJob';

export async function startWorkerJob(
  db: Kysely<Database>,
  who: { hostname: string; executorClass: string },
): Promise<number> {
  const now = Date.now();
  const values = {
    dag_id: null,
    state: 'running' as const,
    job_type: WORKER_JOB_TYPE,
    start_date: now,
    end_date: null,
    latest_heartbeat: now,
    executor_class: who.executorClass,
    hostname: who.hostname,
    unixname: safeUser(),
    pid: process.pid,
  };
  const inserted = await db.insertInto('job').values(values).executeTakeFirst();
  const id = inserted.insertId !== undefined ? Number(inserted.insertId) : 0;
  if (id > 0) return id;
  // PostgreSQL reports no insert id without RETURNING: find the row just written.
  const row = await db
    .selectFrom('job')
    .select('id')
    .where('job_type', '=', WORKER_JOB_TYPE)
    .where('hostname', '=', who.hostname)
    .where('pid', '=', process.pid)
    .where('start_date', '=', now)
    .orderBy('id', 'desc')
    .executeTakeFirstOrThrow();
  return row.id;
}

export { heartbeatJob as heartbeatWorkerJob, endJob as endWorkerJob };

function safeUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}
