import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { UPDRAFT_BIN, REPO_ROOT, runUpdraft } from '../support/cli.js';
import { createHarness, statesOf, type Harness } from './support/harness.js';

/**
 * Real scheduler processes (the built CLI, `npm run build` first): the single-scheduler guard on
 * SQLite and recovery after kill -9 in the middle of a run, with no task run twice or lost.
 */
function startScheduler(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [UPDRAFT_BIN, 'scheduler'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CHAINS = 3;
const LENGTH = 8;

describe('scheduler processes on sqlite', () => {
  let h: Harness;
  let work: string;
  beforeAll(async () => {
    h = await createHarness('sqlite', { AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO' });
    work = h.home;
    await h.writeDag(
      'crash.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'crash_chain', schedule: null, startDate: '2024-01-01' }).build(() => {
  for (let c = 0; c < ${CHAINS}; c++) {
    let prev: BashOperator | undefined;
    for (let i = 0; i < ${LENGTH}; i++) {
      const id = 'c' + c + '_' + i;
      const t = new BashOperator({ taskId: id, bashCommand: 'echo start-' + id + ' >> ${work}/trace; sleep 0.25; echo end-' + id + ' >> ${work}/trace' });
      if (prev) prev.then(t);
      prev = t;
    }
  }
});
`,
    );
    await h.parse();
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  it('refuses a second scheduler on SQLite with a clear message', async () => {
    const first = startScheduler({ ...process.env, ...h.env } as Record<string, string>);
    try {
      const db = (await h.ctx.db()).kysely;
      await waitFor(
        async () =>
          (
            await db
              .selectFrom('job')
              .select('id')
              .where('job_type', '=', 'SchedulerJob')
              .where('state', '=', 'running')
              .execute()
          ).length === 1,
        20_000,
        'first scheduler',
      );
      const second = await runUpdraft(['scheduler', '-n', '1'], { env: h.env });
      expect(second.code).toBe(6);
      expect(second.stderr).toMatch(/Another scheduler is already running/);
      expect(second.stderr).toMatch(/SQLite .* only one scheduler/);
      const check = await runUpdraft(['jobs', 'check', '--job-type', 'SchedulerJob'], { env: h.env });
      expect(check.stdout).toContain('Found one alive job.');
    } finally {
      first.child.kill('SIGTERM');
      await new Promise((r) => first.child.once('exit', r));
    }
    const after = await runUpdraft(['jobs', 'check', '--job-type', 'SchedulerJob'], { env: h.env });
    expect(after.code).not.toBe(0);
    expect(after.stderr).toContain('No alive jobs found');
  }, 60_000);

  it('recovers after kill -9 mid-run: the run completes and no task runs twice', async () => {
    const env = {
      ...process.env,
      ...h.env,
      AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD: '5',
    } as Record<string, string>;
    const run = await triggerDagRun(await h.ctx.db(), 'crash_chain');
    const first = startScheduler(env);
    const db = (await h.ctx.db()).kysely;
    // Let a few tasks finish, then kill the scheduler without any chance to clean up.
    await waitFor(
      async () =>
        (
          await db
            .selectFrom('task_instance')
            .select('task_id')
            .where('run_id', '=', run.run_id)
            .where('state', '=', 'success')
            .execute()
        ).length >= 4,
      30_000,
      'some tasks to finish',
    );
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const midway = statesOf(await h.tis('crash_chain', run.run_id));
    expect(Object.values(midway).filter((s) => s === 'success').length).toBeLessThan(CHAINS * LENGTH);

    const second = startScheduler(env);
    try {
      const done = await h.waitForRun('crash_chain', run.run_id, 60_000);
      expect(done.state).toBe('success');
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
    const trace = (await readFile(join(work, 'trace'), 'utf8')).trim().split('\n');
    for (let c = 0; c < CHAINS; c++) {
      for (let i = 0; i < LENGTH; i++) {
        const id = `c${c}_${i}`;
        expect({
          id,
          starts: trace.filter((l) => l === `start-${id}`).length,
          ends: trace.filter((l) => l === `end-${id}`).length,
        }).toEqual({ id, starts: 1, ends: 1 });
      }
    }
    // Chain order held across the crash: each task started after its upstream ended.
    for (let c = 0; c < CHAINS; c++) {
      for (let i = 1; i < LENGTH; i++)
        expect(trace.indexOf(`start-c${c}_${i}`)).toBeGreaterThan(trace.indexOf(`end-c${c}_${i - 1}`));
    }
    const jobs = await db
      .selectFrom('job')
      .select(['id', 'state'])
      .where('job_type', '=', 'SchedulerJob')
      .orderBy('id')
      .execute();
    expect(jobs.at(-1)!.state).toBe('success');
  }, 120_000);
});

describe.each(['postgres', 'mysql'] as const)('two schedulers at once on %s', (dialect) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(dialect);
    await h.writeDag(
      'multi.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'multi', schedule: null, startDate: '2024-01-01', maxActiveTasks: 32 }).build(() => {
  for (let c = 0; c < 4; c++) {
    let prev: BashOperator | undefined;
    for (let i = 0; i < 5; i++) {
      const id = 'c' + c + '_' + i;
      const t = new BashOperator({ taskId: id, bashCommand: 'echo start-' + id + '-{{ run_id }} >> ${h.home}/trace; sleep 0.1' });
      if (prev) prev.then(t);
      prev = t;
    }
  }
});
`,
    );
    await h.parse();
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  it('shares the work with row locks: every task of every run runs exactly once', async () => {
    const env = { ...process.env, ...h.env } as Record<string, string>;
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await triggerDagRun(await h.ctx.db(), 'multi', { runId: `r${i}` }));
    const a = startScheduler(env);
    const b = startScheduler(env);
    try {
      for (const r of runs) expect((await h.waitForRun('multi', r.run_id, 60_000)).state).toBe('success');
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      await Promise.all([
        new Promise((r) => a.child.once('exit', r)),
        new Promise((r) => b.child.once('exit', r)),
      ]);
    }
    const trace = (await readFile(join(h.home, 'trace'), 'utf8')).trim().split('\n');
    expect(trace).toHaveLength(3 * 4 * 5);
    expect(new Set(trace).size).toBe(trace.length);
    const db = (await h.ctx.db()).kysely;
    const jobs = await db.selectFrom('job').select(['id']).where('job_type', '=', 'SchedulerJob').execute();
    expect(jobs).toHaveLength(2);
    // Both schedulers took part.
    const queuedBy = await db
      .selectFrom('task_instance')
      .select('queued_by_job_id')
      .distinct()
      .where('dag_id', '=', 'multi')
      .execute();
    expect(queuedBy.length).toBe(2);
  }, 120_000);
});

describe.each(['postgres', 'mysql'] as const)('a scheduler killed with kill -9 on %s', (dialect) => {
  let h: Harness;
  let hold: string;
  const TASKS = 4;
  // Far above what the re-queue may take, so waiting for the health threshold cannot pass.
  const HEALTH_THRESHOLD_S = 60;
  beforeAll(async () => {
    h = await createHarness(dialect, {
      AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD: String(HEALTH_THRESHOLD_S),
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO',
    });
    hold = join(h.home, 'hold');
    // In a task process (never while the DAG processor parses it) the import waits while the hold
    // file exists: the tries stay queued, claimed by nobody, until the test lets them go.
    await h.writeDag(
      'held.ts',
      `import { existsSync } from 'node:fs';
import { DAG, BashOperator } from 'updraft';
if (process.env.UPDRAFT_EXECUTOR_CLASS) {
  const until = Date.now() + 150_000;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (existsSync('${hold}') && Date.now() < until) Atomics.wait(cell, 0, 0, 100);
}
export const dag = new DAG({ dagId: 'held', schedule: null, startDate: '2024-01-01' }).build(() => {
  for (let i = 0; i < ${TASKS}; i++)
    new BashOperator({ taskId: 't' + i, bashCommand: 'echo t' + i + ' >> ${h.home}/trace' });
});
`,
    );
    await h.parse();
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  it('the next scheduler on this host re-queues what it queued at once, not after the health threshold', async () => {
    const env = { ...process.env, ...h.env } as Record<string, string>;
    const db = (await h.ctx.db()).kysely;
    await writeFile(hold, '');
    const run = await triggerDagRun(await h.ctx.db(), 'held');
    const first = startScheduler(env);
    const queuedBy = async (jobId: number) =>
      (
        await db
          .selectFrom('task_instance')
          .select('task_id')
          .where('run_id', '=', run.run_id)
          .where('state', '=', 'queued')
          .where('queued_by_job_id', '=', jobId)
          .execute()
      ).length;
    let firstJob = 0;
    await waitFor(
      async () => {
        const job = await db
          .selectFrom('job')
          .select('id')
          .where('job_type', '=', 'SchedulerJob')
          .where('pid', '=', first.child.pid!)
          .executeTakeFirst();
        firstJob = job?.id ?? 0;
        return firstJob > 0 && (await queuedBy(firstJob)) === TASKS;
      },
      60_000,
      'the first scheduler to queue every task',
    );
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const killedAt = Date.now();

    const second = startScheduler(env);
    try {
      // Its job row still looks healthy (it beat within the threshold), but its pid on this host
      // is gone: the next scheduler adopts its queued tries as it starts.
      await waitFor(
        async () => (await queuedBy(firstJob)) === 0,
        40_000,
        'the orphaned tries to be re-queued',
      );
      const tookMs = Date.now() - killedAt;
      expect(tookMs).toBeLessThan(20_000);
      const dead = await db
        .selectFrom('job')
        .select('state')
        .where('id', '=', firstJob)
        .executeTakeFirstOrThrow();
      expect(dead.state).toBe('failed');
      await rm(hold);
      expect((await h.waitForRun('held', run.run_id, 90_000)).state).toBe('success');
      expect(second.output()).toContain(`Scheduler job ${firstJob} `);
    } finally {
      await rm(hold, { force: true });
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
    // Every task ran once: the killed scheduler's processes, let go after the re-queue, found
    // their try taken back and did not run it.
    const trace = (await readFile(join(h.home, 'trace'), 'utf8')).trim().split('\n').sort();
    expect(trace).toEqual(Array.from({ length: TASKS }, (_, i) => `t${i}`));
  }, 180_000);
});
