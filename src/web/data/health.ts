import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/tables.js';

/** Airflow's /health shape: each component healthy or unhealthy, with its newest heartbeat. */
export interface ComponentHealth {
  status: 'healthy' | 'unhealthy' | null;
  latest_heartbeat?: string | null;
}

export interface HealthReport {
  metadatabase: { status: 'healthy' | 'unhealthy' };
  scheduler: { status: 'healthy' | 'unhealthy'; latest_scheduler_heartbeat: string | null };
  dag_processor: { status: 'healthy' | 'unhealthy' | null; latest_dag_processor_heartbeat: string | null };
  triggerer: { status: 'healthy' | 'unhealthy' | null; latest_triggerer_heartbeat: string | null };
  workers: { status: 'healthy' | 'unhealthy' | null; alive: number; latest_worker_heartbeat: string | null };
}

export interface HealthThresholds {
  /** scheduler.scheduler_health_check_threshold, seconds. */
  schedulerSeconds: number;
}

/** Newest heartbeat of each job type, with one GROUP BY query. */
async function newestHeartbeats(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('job')
    .select(['job_type', (eb) => eb.fn.max('latest_heartbeat').as('newest')])
    .where('job_type', 'in', ['SchedulerJob', 'DagProcessorJob', 'TriggererJob', 'WorkerJob'])
    .where('state', '=', 'running')
    .groupBy('job_type')
    .execute();
  return new Map(rows.map((r) => [r.job_type, Number(r.newest)]));
}

/** The newest SchedulerJob heartbeat in any state (the banner shows it even after a clean stop). */
export async function latestSchedulerHeartbeat(db: Kysely<Database>): Promise<number | null> {
  const row = await db
    .selectFrom('job')
    .select((eb) => eb.fn.max('latest_heartbeat').as('newest'))
    .where('job_type', '=', 'SchedulerJob')
    .executeTakeFirst();
  return row?.newest == null ? null : Number(row.newest);
}

export async function schedulerIsHealthy(
  db: Kysely<Database>,
  thresholds: HealthThresholds,
  now = Date.now(),
): Promise<{ healthy: boolean; latest: number | null }> {
  const [beats, latest] = await Promise.all([newestHeartbeats(db), latestSchedulerHeartbeat(db)]);
  const running = beats.get('SchedulerJob');
  const healthy = running !== undefined && now - running <= thresholds.schedulerSeconds * 1000;
  return { healthy, latest };
}

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

export async function healthReport(
  db: Kysely<Database>,
  thresholds: HealthThresholds,
  now = Date.now(),
): Promise<HealthReport> {
  let dbHealthy = true;
  let beats = new Map<string, number>();
  let latestScheduler: number | null = null;
  let aliveWorkers = 0;
  try {
    await sql`select 1`.execute(db);
    beats = await newestHeartbeats(db);
    latestScheduler = await latestSchedulerHeartbeat(db);
    const fresh = now - thresholds.schedulerSeconds * 1000;
    const alive = await db
      .selectFrom('job')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('job_type', '=', 'WorkerJob')
      .where('state', '=', 'running')
      .where('latest_heartbeat', '>=', fresh)
      .executeTakeFirst();
    aliveWorkers = Number(alive?.n ?? 0);
  } catch {
    dbHealthy = false;
  }
  const limitMs = thresholds.schedulerSeconds * 1000;
  const status = (ms: number | undefined): 'healthy' | 'unhealthy' =>
    ms !== undefined && now - ms <= limitMs ? 'healthy' : 'unhealthy';
  // Optional components that never ran report null, like Airflow's triggerer section.
  const optional = (type: string) => (beats.has(type) ? status(beats.get(type)) : null);
  return {
    metadatabase: { status: dbHealthy ? 'healthy' : 'unhealthy' },
    scheduler: {
      status: status(beats.get('SchedulerJob')),
      latest_scheduler_heartbeat: iso(latestScheduler),
    },
    dag_processor: {
      status: optional('DagProcessorJob'),
      latest_dag_processor_heartbeat: iso(beats.get('DagProcessorJob')),
    },
    triggerer: {
      status: optional('TriggererJob'),
      latest_triggerer_heartbeat: iso(beats.get('TriggererJob')),
    },
    workers: {
      status: beats.has('WorkerJob') ? (aliveWorkers > 0 ? 'healthy' : 'unhealthy') : null,
      alive: aliveWorkers,
      latest_worker_heartbeat: iso(beats.get('WorkerJob')),
    },
  };
}
