import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearTaskInstances, setTaskInstanceState, triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  celeryEnv,
  dropPrefix,
  freshPrefix,
  processTree,
  startWorker,
  waitFor,
  waitForOneRunningWorker,
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
 * A user marks a try failed (or clears it) while it runs on a worker: the scheduler sees the change
 * and asks the worker, over the control channel, to stop that try. The worker's runner is given a heartbeat of
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
    await waitForOneRunningWorker(db);
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

  it('clearing the running TI kills try 1 at once, then try 2 runs', async () => {
    const db = (await h.ctx.db()).kysely;
    for (const f of ['start', 'bash.pid', 'end']) rmSync(`${h.home}/${f}`, { force: true });
    h.startScheduler();
    const run = await triggerDagRun(await h.ctx.db(), 'celery_long');
    await waitFor(async () => existsSync(`${h.home}/bash.pid`), 60_000, 'try 1 to start');
    const firstPid = Number(readFileSync(`${h.home}/bash.pid`, 'utf8').trim());
    const tree = processTree(firstPid);
    expect(tree.length).toBeGreaterThanOrEqual(2);

    const clearedAt = Date.now();
    // What `tasks clear` and the UI's Clear do: a running TI becomes restarting.
    await clearTaskInstances(await h.ctx.db(), 'celery_long', { runId: run.run_id, taskIds: ['long'] });
    await waitFor(async () => tree.every((p) => !alive(p)), 10_000, 'try 1 processes to end');
    const stoppedAfter = Date.now() - clearedAt;

    // Once try 1 stopped, the scheduler queues try 2, which starts a new command.
    const pidNow = () => Number(readFileSync(`${h.home}/bash.pid`, 'utf8').trim());
    await waitFor(async () => existsSync(`${h.home}/bash.pid`) && pidNow() !== firstPid, 60_000, 'try 2');
    const second = processTree(pidNow());
    const ti = (await h.tis('celery_long', run.run_id)).long!;
    expect(ti.try_number).toBe(2);
    expect(ti.state).toBe('running');

    // End try 2 too (marked failed), so nothing of this test outlives it.
    await setTaskInstanceState(await h.ctx.db(), {
      dagId: 'celery_long',
      runId: run.run_id,
      taskId: 'long',
      state: 'failed',
    });
    await waitFor(async () => second.every((p) => !alive(p)), 10_000, 'try 2 processes to end');
    await waitFor(
      async () =>
        (
          await db
            .selectFrom('job')
            .select('id')
            .where('job_type', '=', 'LocalTaskJob')
            .where('state', '=', 'running')
            .execute()
        ).length === 0,
      10_000,
      'the task job rows to end',
    );
    await h.stopScheduler();
    expect((await h.tis('celery_long', run.run_id)).long!.state).toBe('failed');
    expect(existsSync(`${h.home}/end`)).toBe(false);
    console.log(`terminate: cleared try's processes gone ${stoppedAfter} ms after the clear`);
  }, 300_000);
});
