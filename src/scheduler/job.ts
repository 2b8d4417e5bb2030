import { hostname as osHostname, userInfo } from 'node:os';
import type { Kysely } from 'kysely';
import type { MetadataDb } from '../db/index.js';
import type { Database, JobState } from '../db/tables.js';
import { ConflictError } from '../errors.js';

export const SCHEDULER_JOB_TYPE = 'SchedulerJob';

export interface JobInfo {
  id: number;
  hostname: string;
  pid: number;
}

/** Scheduler jobs whose heartbeat is recent enough to count as alive. */
export async function liveSchedulerJobs(db: Kysely<Database>, thresholdMs: number, now = Date.now()) {
  return db
    .selectFrom('job')
    .selectAll()
    .where('job_type', '=', SCHEDULER_JOB_TYPE)
    .where('state', '=', 'running')
    .where('latest_heartbeat', '>=', now - thresholdMs)
    .orderBy('latest_heartbeat', 'desc')
    .execute();
}

/**
 * Register this scheduler. Where the database cannot lock rows with SKIP LOCKED (SQLite, MySQL
 * 5.x, MariaDB < 10.6) two schedulers would schedule the same task twice, so a second one is
 * refused while the first is alive.
 */
export async function startSchedulerJob(
  metadata: MetadataDb,
  options: { healthThresholdMs: number; rowLocking: boolean; hostname?: string; executorClass: string },
): Promise<JobInfo> {
  const db = metadata.kysely;
  const now = Date.now();
  const host = options.hostname || osHostname();
  if (!metadata.capabilities.multipleSchedulers || !options.rowLocking) {
    const others = await liveSchedulerJobs(db, options.healthThresholdMs, now);
    // A scheduler on this host whose process is gone (kill -9, power loss) does not count, so a
    // restart right after a crash is not refused for the whole health-check threshold.
    const dead = others.filter((j) => j.hostname === host && j.pid !== null && !processAlive(j.pid));
    if (dead.length > 0)
      await db
        .updateTable('job')
        .set({ state: 'failed', end_date: now })
        .where(
          'id',
          'in',
          dead.map((j) => j.id),
        )
        .execute();
    const other = others.find((j) => !dead.includes(j));
    if (other) {
      const why = !metadata.capabilities.multipleSchedulers
        ? `${metadata.capabilities.serverVersion} cannot lock rows with SELECT … FOR UPDATE SKIP LOCKED, so only one scheduler may run against it`
        : 'scheduler.use_row_level_locking is off, so only one scheduler may run';
      throw new ConflictError(
        `Another scheduler is already running (job ${other.id} on ${other.hostname}, pid ${other.pid ?? '?'}, last heartbeat ` +
          `${Math.round((now - other.latest_heartbeat) / 1000)} s ago). ${why}. Stop it first, or use PostgreSQL or MySQL 8+ for several schedulers.`,
      );
    }
  }
  const inserted = await db
    .insertInto('job')
    .values({
      dag_id: null,
      state: 'running',
      job_type: SCHEDULER_JOB_TYPE,
      start_date: now,
      end_date: null,
      latest_heartbeat: now,
      executor_class: options.executorClass,
      hostname: host,
      unixname: safeUser(),
      pid: process.pid,
    })
    .executeTakeFirst();
  let id = inserted.insertId !== undefined ? Number(inserted.insertId) : undefined;
  if (id === undefined || id === 0) {
    const row = await db
      .selectFrom('job')
      .select('id')
      .where('job_type', '=', SCHEDULER_JOB_TYPE)
      .where('pid', '=', process.pid)
      .where('hostname', '=', host)
      .where('start_date', '=', now)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    id = row.id;
  }
  return { id, hostname: host, pid: process.pid };
}

export async function heartbeatJob(db: Kysely<Database>, jobId: number, now = Date.now()): Promise<void> {
  await db.updateTable('job').set({ latest_heartbeat: now }).where('id', '=', jobId).execute();
}

export async function endJob(db: Kysely<Database>, jobId: number, state: JobState): Promise<void> {
  const now = Date.now();
  await db
    .updateTable('job')
    .set({ state, end_date: now, latest_heartbeat: now })
    .where('id', '=', jobId)
    .execute();
}

function safeUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
