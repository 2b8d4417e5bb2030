import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  celeryEnv,
  freshPrefix,
  privateRedis,
  startWorker,
  waitFor,
  type PrivateRedis,
  type WorkerProcess,
} from './celery-support.js';

/**
 * Redis restarted in the middle of a run (a private redis-server with append-only persistence, on
 * its own port): the worker and the scheduler reconnect, and tries queued before the restart run,
 * each once.
 */
const FAN = 6;

describe('Redis restarted mid-run', () => {
  let h: Harness;
  let dir: string;
  let redis: PrivateRedis;
  let worker: WorkerProcess | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'updraft-redis-restart-'));
    redis = await privateRedis(dir, { persistent: true });
    await redis.start();
    h = await createHarness(
      'sqlite',
      celeryEnv(freshPrefix(), {
        AIRFLOW__CELERY__BROKER_URL: redis.url,
        AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT: '600',
      }),
    );
    const trace = join(h.home, 'trace');
    await h.writeDag(
      'fan.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'fan_restart', schedule: null, startDate: '2024-01-01' }).build(() => {
  const start = new BashOperator({ taskId: 'start', bashCommand: 'true' });
  for (let i = 0; i < ${FAN}; i++)
    start.then(new BashOperator({ taskId: 'f' + i, bashCommand: 'echo f' + i + ' >> ${trace}; sleep 1.5' }));
});
`,
    );
    await h.parse();
  }, 60_000);
  afterAll(async () => {
    await h?.stopScheduler().catch(() => undefined);
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    await h?.close();
    await redis?.kill();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('the worker and the scheduler reconnect; tries queued before the restart still run, once each', async () => {
    worker = startWorker(
      { ...process.env, ...h.env, AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO' } as Record<string, string>,
      ['-c', '2', '--skip-serve-logs', '--hostname', 'w1'],
    );
    h.startScheduler();
    const run = await triggerDagRun(await h.ctx.db(), 'fan_restart');
    const trace = join(h.home, 'trace');
    const traced = async () => (await readFile(trace, 'utf8').catch(() => '')).split('\n').filter((l) => l);
    // Two running (concurrency 2), the rest queued in Redis.
    await waitFor(async () => (await traced()).length >= 1, 60_000, 'the fan-out to start');
    const tis = await h.tis('fan_restart', run.run_id);
    expect(Object.values(tis).filter((t) => t.state === 'queued').length).toBeGreaterThanOrEqual(1);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    const done = await h.waitForRun('fan_restart', run.run_id, 120_000);
    expect(done.state).toBe('success');
    const lines = await traced();
    expect([...lines].sort()).toEqual(Array.from({ length: FAN }, (_, i) => `f${i}`).sort());
    expect(worker.child.exitCode).toBeNull();
    expect(worker.output()).toMatch(/reconnected to the Redis broker/);
  }, 180_000);
});
