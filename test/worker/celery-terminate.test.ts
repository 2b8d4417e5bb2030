import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTaskInstanceState, triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  celeryEnv,
  dropPrefix,
  freshPrefix,
  processTree,
  startWorker,
  waitFor,
  type WorkerProcess,
} from './celery-support.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A user marks a try failed while it runs on a worker: the scheduler sees the change and asks the
 * worker, over the control channel, to stop that try. The worker's runner is given a heartbeat of
 * 60 s so that its own check of the TI (the other way a marked try stops) cannot be what stops the
 * task within this test; the bash command sleeps 30 s, so only the control message ends it early.
 */
describe('terminate a running try on a worker', () => {
  let h: Harness;
  let worker: WorkerProcess;
  const prefix = freshPrefix();
  beforeAll(async () => {
    // The scheduler sweeps every second (its repair interval follows job_heartbeat_sec).
    h = await createHarness('sqlite', celeryEnv(prefix, { AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC: '1' }));
    await h.writeDag(
      'long.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'celery_long', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({
    taskId: 'long',
    bashCommand: 'echo $$ > ${h.home}/bash.pid; touch ${h.home}/start; sleep 30; touch ${h.home}/end',
  });
});
`,
    );
    await h.parse();
    worker = startWorker(
      { ...process.env, ...h.env, AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC: '60' } as Record<string, string>,
      ['--hostname', 'terminate-worker', '-c', '2', '--skip-serve-logs'],
    );
  }, 60_000);
  afterAll(async () => {
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    await h?.close();
    await dropPrefix(prefix);
  }, 60_000);

  it('marking the running TI failed kills its process tree at once and keeps it failed', async () => {
    const db = (await h.ctx.db()).kysely;
    await waitFor(
      async () =>
        (
          await db
            .selectFrom('job')
            .select('id')
            .where('job_type', '=', 'WorkerJob')
            .where('state', '=', 'running')
            .execute()
        ).length === 1,
      180_000,
      'the worker job row',
    );
    h.startScheduler();
    const run = await triggerDagRun(await h.ctx.db(), 'celery_long');
    await waitFor(async () => existsSync(`${h.home}/start`), 60_000, 'the task to start');
    await waitFor(async () => existsSync(`${h.home}/bash.pid`), 5_000, 'the bash pid');
    const bashPid = Number(readFileSync(`${h.home}/bash.pid`, 'utf8').trim());
    const tree = processTree(bashPid);
    expect(tree.length).toBeGreaterThanOrEqual(2); // bash and its sleep

    const markedAt = Date.now();
    // What the UI's Mark Failed and PATCH …/taskInstances/long do.
    await setTaskInstanceState(await h.ctx.db(), {
      dagId: 'celery_long',
      runId: run.run_id,
      taskId: 'long',
      state: 'failed',
    });
    await waitFor(async () => tree.every((p) => !alive(p)), 10_000, 'the task processes to end');
    const stoppedAfter = Date.now() - markedAt;
    expect(stoppedAfter).toBeLessThan(10_000);

    // The runner ends its job row; the TI keeps the state the user set.
    await waitFor(
      async () => {
        const ti = await db
          .selectFrom('task_instance')
          .select('job_id')
          .where('dag_id', '=', 'celery_long')
          .where('task_id', '=', 'long')
          .executeTakeFirstOrThrow();
        const job = await db
          .selectFrom('job')
          .select('state')
          .where('id', '=', ti.job_id!)
          .executeTakeFirstOrThrow();
        return job.state !== 'running';
      },
      10_000,
      "the try's job row to end",
    );
    await h.stopScheduler();
    const tis = await h.tis('celery_long', run.run_id);
    expect(tis.long!.state).toBe('failed');
    expect(tis.long!.try_number).toBe(1);
    expect(existsSync(`${h.home}/end`)).toBe(false);
    expect(tree.filter(alive)).toEqual([]);
    console.log(`terminate: task processes gone ${stoppedAfter} ms after the mark`);
  }, 300_000);
});
