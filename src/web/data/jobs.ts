import type { Kysely } from 'kysely';
import type { JobState } from '../../core/states.js';
import type { Database, JobRow } from '../../db/tables.js';

/**
 * The job table as the REST API lists it (Airflow shows the same rows on its Jobs page, and its
 * newer API as /jobs): schedulers, DAG processors, Celery workers and task jobs, with whether each
 * is alive by the rule /health and `jobs check` use — running, and a heartbeat within
 * [scheduler] scheduler_health_check_threshold.
 */
export interface JobFilter {
  jobType?: string;
  hostname?: string;
  state?: JobState;
  isAlive?: boolean;
}

export const JOB_STATES: readonly JobState[] = ['running', 'success', 'failed', 'restarting', 'shutdown'];

export async function listJobs(
  db: Kysely<Database>,
  filter: JobFilter,
  page: { limit: number; offset: number },
  alive: { thresholdMs: number; now: number },
): Promise<{ rows: (JobRow & { is_alive: boolean })[]; total: number }> {
  const freshSince = alive.now - alive.thresholdMs;
  let base = db.selectFrom('job');
  if (filter.jobType !== undefined) base = base.where('job_type', '=', filter.jobType);
  if (filter.hostname !== undefined) base = base.where('hostname', '=', filter.hostname);
  if (filter.state !== undefined) base = base.where('state', '=', filter.state);
  if (filter.isAlive === true)
    base = base.where('state', '=', 'running').where('latest_heartbeat', '>=', freshSince);
  if (filter.isAlive === false)
    base = base.where((eb) => eb.or([eb('state', '!=', 'running'), eb('latest_heartbeat', '<', freshSince)]));
  const [rows, total] = await Promise.all([
    base.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
  ]);
  return {
    rows: rows.map((r) => ({
      ...r,
      is_alive: r.state === 'running' && Number(r.latest_heartbeat) >= freshSince,
    })),
    total: Number(total?.n ?? 0),
  };
}
