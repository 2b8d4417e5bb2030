import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { runUpdraft } from '../support/cli.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  celeryEnv,
  dropPrefix,
  freshPrefix,
  startWorker,
  waitForOneRunningWorker,
  type WorkerProcess,
} from './celery-support.js';

/**
 * CeleryExecutor end to end on the real Redis (127.0.0.1:6379, a key prefix of its own): a real
 * scheduler queues tries into BullMQ, a real worker process (`updraft celery worker`, the built CLI)
 * runs them through its warm task processes, and the outcomes come back as events.
 */
describe('CeleryExecutor with a worker process', () => {
  let h: Harness;
  let worker: WorkerProcess;
  const prefix = freshPrefix();
  beforeAll(async () => {
    h = await createHarness('sqlite', celeryEnv(prefix, { AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO' }));
    await h.writeDag(
      'shapes.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'celery_shapes', schedule: null, startDate: '2024-01-01' }).build(() => {
  const a = new BashOperator({ taskId: 'a', bashCommand: 'echo a' });
  const b = new BashOperator({ taskId: 'b', bashCommand: 'echo b', queue: 'default' });
  const fan = [0, 1, 2, 3, 4].map((i) => new BashOperator({ taskId: 'f' + i, bashCommand: 'echo f' + i }));
  const end = new BashOperator({ taskId: 'end', bashCommand: 'echo end' });
  a.then(b);
  for (const f of fan) { b.then(f); f.then(end); }
});
`,
    );
    await h.parse();
    worker = startWorker({ ...process.env, ...h.env } as Record<string, string>, [
      '--hostname',
      'celery-test-worker',
      '-c',
      '4',
      '--skip-serve-logs',
      '--pid',
      `${h.home}/worker.pid`,
    ]);
  }, 60_000);
  afterAll(async () => {
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    await h?.close();
    await dropPrefix(prefix);
  }, 60_000);

  it('runs a DAG on the worker and records where each try ran', async () => {
    const db = (await h.ctx.db()).kysely;
    await waitForOneRunningWorker(db);
    h.startScheduler();
    const run = await triggerDagRun(await h.ctx.db(), 'celery_shapes');
    const done = await h.waitForRun('celery_shapes', run.run_id, 60_000);
    await h.stopScheduler();
    expect(done.state).toBe('success');
    const tis = await h.tis('celery_shapes', run.run_id);
    expect(Object.keys(tis)).toHaveLength(8);
    for (const ti of Object.values(tis)) {
      expect(ti.state).toBe('success');
      expect(ti.hostname).toBe('celery-test-worker');
      expect(ti.executor_class ?? 'CeleryExecutor').toBe('CeleryExecutor');
      expect(ti.try_number).toBe(1);
    }
  }, 300_000);

  it('jobs check --job-type WorkerJob sees the worker, per host too', async () => {
    const ok = await runUpdraft(
      ['jobs', 'check', '--job-type', 'WorkerJob', '--hostname', 'celery-test-worker'],
      {
        env: h.env,
      },
    );
    expect(ok.stdout + ok.stderr).toContain('Found one alive job');
    expect(ok.code).toBe(0);
    const other = await runUpdraft(['jobs', 'check', '--job-type', 'WorkerJob', '--hostname', 'elsewhere'], {
      env: h.env,
    });
    expect(other.code).not.toBe(0);
  }, 60_000);

  it('celery stop ends the worker, which marks its job row', async () => {
    const stop = await runUpdraft(['celery', 'stop', '--pid', `${h.home}/worker.pid`], { env: h.env });
    expect(stop.code).toBe(0);
    expect(await worker.exited).toBe(0);
    const db = (await h.ctx.db()).kysely;
    const rows = await db
      .selectFrom('job')
      .select(['state', 'end_date'])
      .where('job_type', '=', 'WorkerJob')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.state).toBe('success');
    expect(rows[0]!.end_date).not.toBeNull();
  }, 60_000);
});
