import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDagRun, getSerializedDag } from '../../src/dag-runs/index.js';
import type { Executor } from '../../src/executors/executor.js';
import { silentLogger } from '../../src/log.js';
import { DagCache } from '../../src/scheduler/dag-cache.js';
import {
  handleZombies,
  releaseRestarting,
  resetOrphanedQueued,
  stopChangedRunning,
  timeOutRuns,
  type RepairOptions,
} from '../../src/scheduler/repair-sweep.js';
import { startSchedulerJob } from '../../src/scheduler/job.js';
import { TEST_DIALECTS } from '../support/databases.js';
import { createHarness, statesOf, type Harness } from './support/harness.js';

/** The scheduler's repairs against real rows (the loop calls these every few seconds). */
describe.each(TEST_DIALECTS)('scheduler repairs on %s', (dialect) => {
  let h: Harness;
  const terminated: string[] = [];
  // Only terminate() is used by the repairs; the rest of the interface is not reached here.
  const executor = {
    terminate: async (k: { taskId: string }) => void terminated.push(k.taskId),
  } as unknown as Executor;
  beforeAll(async () => {
    h = await createHarness(dialect);
    await h.writeDag(
      'repairs.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'repairs', schedule: null, startDate: '2024-01-01', dagrunTimeout: { seconds: 30 } }).build(() => {
  new BashOperator({ taskId: 'retrying', bashCommand: 'true', retries: 1, retryDelay: 1 });
  new BashOperator({ taskId: 'final', bashCommand: 'true' });
  new BashOperator({ taskId: 'orphan', bashCommand: 'true' });
  new BashOperator({ taskId: 'stuck', bashCommand: 'true' });
  new BashOperator({ taskId: 'restart_me', bashCommand: 'true' });
});
`,
    );
    await h.parse();
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  it('fails or retries zombies, resets orphaned and stuck queued tasks, releases restarting ones, times out runs', async () => {
    const metadata = await h.ctx.db();
    const db = metadata.kysely;
    const now = Date.now();
    const dag = await getSerializedDag(db, 'repairs');
    await createDagRun(db, {
      dag,
      runType: 'manual',
      logicalDate: now,
      dataInterval: null,
      runId: 'r',
      state: 'running',
    });
    await db
      .updateTable('dag_run')
      .set({ start_date: now - 60_000 })
      .where('run_id', '=', 'r')
      .execute();
    const me = await startSchedulerJob(metadata, {
      healthThresholdMs: 30_000,
      rowLocking: true,
      executorClass: 'LocalExecutor',
    });
    // A runner job that stopped beating 10 minutes ago on another host.
    const ins = await db
      .insertInto('job')
      .values({
        dag_id: 'repairs',
        state: 'running',
        job_type: 'LocalTaskJob',
        start_date: now - 700_000,
        end_date: null,
        latest_heartbeat: now - 600_000,
        executor_class: null,
        hostname: 'elsewhere',
        unixname: null,
        pid: 1,
      })
      .executeTakeFirst();
    const runnerJob =
      ins.insertId !== undefined && Number(ins.insertId) > 0
        ? Number(ins.insertId)
        : (
            await db
              .selectFrom('job')
              .select('id')
              .where('hostname', '=', 'elsewhere')
              .executeTakeFirstOrThrow()
          ).id;
    const set = (task: string, values: Record<string, unknown>) =>
      db
        .updateTable('task_instance')
        .set(values)
        .where('run_id', '=', 'r')
        .where('task_id', '=', task)
        .execute();
    await set('retrying', { state: 'running', try_number: 1, job_id: runnerJob, start_date: now - 700_000 });
    await set('final', {
      state: 'running',
      try_number: 2,
      max_tries: 1,
      job_id: runnerJob,
      start_date: now - 700_000,
    });
    await set('orphan', { state: 'queued', try_number: 1, queued_by_job_id: 999_999, queued_dttm: now });
    await set('stuck', {
      state: 'queued',
      try_number: 1,
      queued_by_job_id: me.id,
      queued_dttm: now - 3_600_000,
    });
    await set('restart_me', { state: 'restarting', try_number: 1, job_id: null });
    const o: RepairOptions = {
      now,
      jobId: me.id,
      hostname: 'here',
      zombieThresholdMs: 300_000,
      runnerHeartbeatMs: 5000,
      queuedTimeoutMs: 600_000,
      schedulerHealthMs: 30_000,
      log: silentLogger,
    };
    const dags = new DagCache(db);

    expect(await handleZombies(db, dags, o)).toBe(2);
    expect(await resetOrphanedQueued(db, executor, o)).toBe(2);
    expect(terminated).toEqual(['stuck']);
    expect(await releaseRestarting(db, o)).toBe(1);
    let tis = await h.tis('repairs', 'r');
    expect(statesOf(tis)).toEqual({
      retrying: 'up_for_retry',
      final: 'failed',
      orphan: null,
      stuck: null,
      restart_me: null,
    });
    expect(tis.retrying!.next_retry_at).toBe(now + 1000);
    // Reset queued TIs get one more try so the next try number is new.
    expect([tis.orphan!.max_tries, tis.orphan!.try_number]).toEqual([1, 1]);
    expect(
      (await db.selectFrom('job').select('state').where('id', '=', runnerJob).executeTakeFirstOrThrow())
        .state,
    ).toBe('failed');
    // Nothing left to repair: a second pass changes nothing.
    expect(await handleZombies(db, dags, o)).toBe(0);
    expect(await resetOrphanedQueued(db, executor, o)).toBe(0);

    expect(await timeOutRuns(db, dags, o)).toBe(1);
    tis = await h.tis('repairs', 'r');
    expect(new Set(Object.values(statesOf(tis)))).toEqual(new Set(['skipped', 'failed']));
    expect(
      (await db.selectFrom('dag_run').select('state').where('run_id', '=', 'r').executeTakeFirstOrThrow())
        .state,
    ).toBe('failed');
  });

  it('asks the executor to stop tries a user marked or cleared while their job still runs', async () => {
    const metadata = await h.ctx.db();
    const db = metadata.kysely;
    const now = Date.now();
    await createDagRun(db, {
      dag: await getSerializedDag(db, 'repairs'),
      runType: 'manual',
      logicalDate: now + 1,
      dataInterval: null,
      runId: 'changed',
      state: 'running',
    });
    const job = async (state: 'running' | 'success') => {
      const values = {
        dag_id: 'repairs',
        state,
        job_type: 'LocalTaskJob',
        start_date: now,
        end_date: null,
        latest_heartbeat: now,
        executor_class: null,
        hostname: `changed-${state}-${Math.random()}`,
        unixname: null,
        pid: 1,
      };
      const ins = await db.insertInto('job').values(values).executeTakeFirst();
      if (ins.insertId !== undefined && Number(ins.insertId) > 0) return Number(ins.insertId);
      return (
        await db
          .selectFrom('job')
          .select('id')
          .where('hostname', '=', values.hostname)
          .executeTakeFirstOrThrow()
      ).id;
    };
    const set = async (task: string, state: string, tryNumber: number, jobId: number) =>
      db
        .updateTable('task_instance')
        .set({ state: state as 'running', try_number: tryNumber, job_id: jobId })
        .where('run_id', '=', 'changed')
        .where('task_id', '=', task)
        .execute();
    await set('final', 'failed', 3, await job('running')); // marked failed while it ran
    await set('restart_me', 'restarting', 1, await job('running')); // cleared while it ran
    await set('retrying', 'running', 1, await job('running')); // still running: left alone
    await set('orphan', 'success', 1, await job('success')); // ended by its runner: left alone
    const asked: { taskId: string; tryNumber: number; runId: string }[] = [];
    const recording = {
      terminate: async (k: { taskId: string; tryNumber: number; runId: string }) => void asked.push(k),
    } as unknown as Executor;
    expect(await stopChangedRunning(db, recording)).toBe(2);
    expect(
      asked
        .filter((k) => k.runId === 'changed')
        .map((k) => [k.taskId, k.tryNumber])
        .sort(),
    ).toEqual([
      ['final', 3],
      ['restart_me', 1],
    ]);
  });
});
