import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  celeryEnv,
  dropPrefix,
  freshPrefix,
  killHost,
  startWorker,
  waitFor,
  type WorkerProcess,
} from './celery-support.js';

/**
 * Faults injected for real against CeleryExecutor on the shared Redis: a worker host killed with
 * kill -9 in the middle of a try, and queued jobs that vanish from Redis. Each try appends to a
 * trace file, so every run of the task's side effect is counted.
 */
const lines = async (file: string) =>
  (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

describe('CeleryExecutor faults', () => {
  let h: Harness;
  const prefix = freshPrefix();
  const workers: WorkerProcess[] = [];
  const workerEnv = () => ({ ...process.env, ...h.env }) as Record<string, string>;
  const launch = (host: string) => {
    const w = startWorker(workerEnv(), [
      '--hostname',
      host,
      '-c',
      '2',
      '--skip-serve-logs',
      '--pid',
      join(h.home, `${host}.pid`),
    ]);
    workers.push(w);
    return w;
  };
  const workerReady = (host: string) =>
    waitFor(
      async () =>
        (
          await (
            await h.ctx.db()
          ).kysely
            .selectFrom('job')
            .select('id')
            .where('job_type', '=', 'WorkerJob')
            .where('hostname', '=', host)
            .where('state', '=', 'running')
            .execute()
        ).length > 0,
      180_000,
      `worker ${host} to start`,
    );
  beforeAll(async () => {
    h = await createHarness(
      'sqlite',
      celeryEnv(prefix, {
        AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD: '6',
        AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT: '15',
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD: '30',
      }),
    );
    const trace = join(h.home, 'trace');
    await h.writeDag(
      'faults.ts',
      `import { DAG, BashOperator } from 'updraft';
export const slow = new DAG({ dagId: 'slow_once', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'slow', retries: 1, retryDelay: 0, bashCommand: 'echo start-{{ ti.try_number }} >> ${trace}.slow; sleep 4; echo end-{{ ti.try_number }} >> ${trace}.slow' });
});
export const quick = new DAG({ dagId: 'quick_once', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'quick', bashCommand: 'echo ran-{{ ti.try_number }} >> ${trace}.quick' });
});
`,
    );
    await h.parse();
  }, 60_000);
  afterEach(async () => {
    await h.stopScheduler().catch(() => undefined);
    for (const w of workers.splice(0)) {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
      await w.exited;
    }
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await dropPrefix(prefix);
  }, 60_000);

  it('a worker host killed with kill -9 mid-try: the try is detected as a zombie and retried on another worker, never twice at once', async () => {
    const db = (await h.ctx.db()).kysely;
    const trace = join(h.home, 'trace.slow');
    const a = launch('host-a');
    await workerReady('host-a');
    h.startScheduler();
    const run = await triggerDagRun(await h.ctx.db(), 'slow_once');
    await waitFor(
      async () => (await lines(trace)).includes('start-1'),
      60_000,
      'try 1 to start on host-a',
    ).catch(async (error: Error) => {
      throw new Error(
        `${error.message}; TIs ${JSON.stringify(await h.tis('slow_once', run.run_id))}; worker: ${a.output()}`,
      );
    });
    const killed = killHost(a.child.pid!);
    expect(killed.length).toBeGreaterThanOrEqual(2); // the worker and its task process at least
    launch('host-b');
    const done = await h.waitForRun('slow_once', run.run_id, 180_000);
    expect(done.state).toBe('success');
    const ti = (await h.tis('slow_once', run.run_id)).slow!;
    expect(ti.try_number).toBe(2);
    expect(ti.hostname).toBe('host-b');
    // Try 1 never finished (its host died); try 2 started only after it, and ran once.
    expect(await lines(trace)).toEqual(['start-1', 'start-2', 'end-2']);
    const jobs = await db
      .selectFrom('job')
      .select(['hostname', 'state'])
      .where('job_type', '=', 'LocalTaskJob')
      .execute();
    expect(jobs.filter((j) => j.hostname === 'host-a').map((j) => j.state)).toEqual(['failed']);
  }, 400_000);

  it('queued tries whose jobs vanished from Redis are re-sent after task_queued_timeout and run once', async () => {
    const trace = join(h.home, 'trace.quick');
    h.startScheduler();
    const run = await triggerDagRun(await h.ctx.db(), 'quick_once');
    const db = (await h.ctx.db()).kysely;
    await waitFor(
      async () => (await h.tis('quick_once', run.run_id)).quick?.state === 'queued',
      30_000,
      'the try to be queued',
    );
    // The scheduler marks the try queued, then adds its job: wait until the job is in Redis.
    const { Redis } = await import('ioredis');
    const redis = new Redis('redis://127.0.0.1:6379/0');
    try {
      // The first test's jobs may still be in Redis (a dead host's try can end up a kept failed
      // job), so look for this run's job by its data, not by counting keys.
      const thisRunsJob = async () => {
        for (const key of await redis.keys(`${prefix}:default:${'?'.repeat(40)}`)) {
          const data = await redis.hget(key, 'data');
          if (data?.includes('quick_once') && data.includes(run.run_id)) return true;
        }
        return false;
      };
      await waitFor(thisRunsJob, 60_000, 'the job in Redis');
    } finally {
      redis.disconnect();
    }
    // Redis loses everything under our prefix (as a restart without persistence or a flush would).
    await dropPrefix(prefix);
    launch('host-c');
    const done = await h.waitForRun('quick_once', run.run_id, 240_000);
    expect(done.state).toBe('success');
    const ti = (await h.tis('quick_once', run.run_id)).quick!;
    // Re-sent at least once (a slow worker start can make it more); ran exactly once, as the last try.
    expect(ti.try_number).toBeGreaterThanOrEqual(2);
    expect(ti.hostname).toBe('host-c');
    expect(await lines(trace)).toEqual([`ran-${ti.try_number}`]);
    void db;
  }, 300_000);
});
