import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mayReadPreviousSuccess,
  runTaskInstance,
  type TaskRunRequest,
} from '../../src/task-runner/run-task-instance.js';
import { BashOperator, FunctionOperator } from '../../src/index.js';
import { taskLogPath } from '../../src/task-runner/task-log.js';
import { runContextColumns } from '../../src/core/run-context.js';
import { TEST_DIALECTS } from '../support/databases.js';
import { setVariable } from '../../src/variables/index.js';
import { addConnection } from '../../src/connections/index.js';
import {
  createExecEnv,
  EXEC_DAG_FILE,
  seedDagRun,
  seedSerializedDag,
  seedTaskInstance,
  tiRow,
  waitFor,
  type ExecEnv,
} from '../support/exec-env.js';

/** The task runner in this process against each real metadata DB: states, XCom, logs, guards. */
describe.each(TEST_DIALECTS)('task runner on %s', (dialect) => {
  let e: ExecEnv;
  const run = (key: Omit<TaskRunRequest, 'fileloc'>) =>
    runTaskInstance(
      { ...key, fileloc: EXEC_DAG_FILE },
      { db: e.db, fernet: e.ctx.fernet, config: e.ctx.config.values, ownsProcess: false },
    );

  beforeAll(async () => {
    e = await createExecEnv(dialect);
    await seedSerializedDag(e.db);
    await seedDagRun(e.db, 'run_1', { who: 'updraft' });
  });
  afterAll(async () => {
    await e?.cleanup();
  });

  it('runs a bash task to success, records the runner, renders templates with conf over params, writes the log', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'echo_ok');
    const result = await run(key);
    expect(result).toMatchObject({ ran: true, state: 'success' });
    const ti = await tiRow(e.db, 'run_1', 'echo_ok');
    expect(ti.state).toBe('success');
    expect(ti.pid).toBe(process.pid);
    expect(ti.hostname).toBeTruthy();
    expect(ti.unixname).toBeTruthy();
    expect(ti.start_date).toBeGreaterThan(0);
    expect(ti.end_date).toBeGreaterThanOrEqual(ti.start_date!);
    expect(ti.duration).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(ti.rendered_fields!)).toMatchObject({
      bashCommand: 'echo "hello updraft on 2024-01-02"',
    });
    const job = await e.db.kysely
      .selectFrom('job')
      .selectAll()
      .where('id', '=', ti.job_id!)
      .executeTakeFirstOrThrow();
    expect(job).toMatchObject({ job_type: 'LocalTaskJob', state: 'success', pid: process.pid });
    expect(job.end_date).not.toBeNull();
    const path = taskLogPath(e.logFolder, key);
    expect(path).toBe(`${e.logFolder}/dag_id=exec_test/run_id=run_1/task_id=echo_ok/attempt=1.log`);
    const log = readFileSync(path, 'utf8');
    expect(log).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+\+0000\] \{runner\} INFO - Starting attempt 1 of 1$/m);
    expect(log).toContain('hello updraft on 2024-01-02');
    expect(log).toContain('Marking task as SUCCESS');
    const xcom = await e.db.kysely
      .selectFrom('xcom')
      .selectAll()
      .where('task_id', '=', 'echo_ok')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(xcom.value)).toBe('hello updraft on 2024-01-02');
  });

  it("takes the run's context from the scheduler's queued info, reading the previous successful run only where a try can see it", async () => {
    await seedDagRun(e.db, 'run_before', null, Date.UTC(2023, 11, 30));
    await e.db.kysely
      .updateTable('dag_run')
      .set({ state: 'success' })
      .where('run_id', '=', 'run_before')
      .execute();
    await seedDagRun(e.db, 'run_queued', { who: 'stored' }, Date.UTC(2024, 0, 5));
    const stored = await e.db.kysely
      .selectFrom('dag_run')
      .selectAll()
      .where('run_id', '=', 'run_queued')
      .executeTakeFirstOrThrow();
    // A conf other than the stored one shows which of the two the try used.
    const dagRun = { ...runContextColumns(stored), conf: JSON.stringify({ who: 'queued' }) };
    const rendered = async (taskId: string) => {
      const key = await seedTaskInstance(e.db, 'run_queued', taskId);
      const result = await run({ ...key, queued: { maxTries: 0, operator: 'BashOperator', dagRun } });
      expect(result).toMatchObject({ ran: true, state: 'success' });
      return JSON.parse((await tiRow(e.db, 'run_queued', taskId)).rendered_fields!) as {
        bashCommand: string;
      };
    };
    expect((await rendered('echo_ok')).bashCommand).toBe('echo "hello queued on 2024-01-05"');
    // Named by the template: read for this try (run_before's interval starts a day before it).
    expect((await rendered('echo_prev')).bashCommand).toBe(
      'echo "since 2023-12-29T00:00:00+00:00 for queued"',
    );
  });

  it('runs each try on its own copy of the operator when the DAG module is kept between tries', async () => {
    const reusing = (key: Omit<TaskRunRequest, 'fileloc'>) =>
      runTaskInstance(
        { ...key, fileloc: EXEC_DAG_FILE },
        {
          db: e.db,
          fernet: e.ctx.fernet,
          config: e.ctx.config.values,
          ownsProcess: false,
          reuseDagModule: true,
        },
      );
    await seedDagRun(e.db, 'run_copy_a', { who: 'first' }, Date.UTC(2022, 2, 1));
    await seedDagRun(e.db, 'run_copy_b', { who: 'second' }, Date.UTC(2022, 2, 2));
    for (const [runId, who, ds] of [
      ['run_copy_a', 'first', '2022-03-01'],
      ['run_copy_b', 'second', '2022-03-02'],
    ] as const) {
      const key = await seedTaskInstance(e.db, runId, 'echo_ok');
      expect(await reusing(key)).toMatchObject({ ran: true, state: 'success' });
      // Rendering the shared operator in place would have left 'first' in the second run.
      expect(JSON.parse((await tiRow(e.db, runId, 'echo_ok')).rendered_fields!)).toMatchObject({
        bashCommand: `echo "hello ${who} on ${ds}"`,
      });
    }
  });

  it('marks exit code 99 as skipped', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'exit_99');
    expect(await run(key)).toMatchObject({ ran: true, state: 'skipped' });
    expect((await tiRow(e.db, 'run_1', 'exit_99')).state).toBe('skipped');
  });

  it('puts a failed try up for retry with exponential backoff capped by maxRetryDelay, then fails the last try', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'fail_retry', { tryNumber: 1, maxTries: 2 });
    const before = Date.now();
    expect(await run(key)).toMatchObject({ ran: true, state: 'up_for_retry' });
    let ti = await tiRow(e.db, 'run_1', 'fail_retry');
    expect(ti.state).toBe('up_for_retry');
    // try 1 → retryDelay 10 s
    expect(ti.next_retry_at! - ti.end_date!).toBe(10_000);
    expect(ti.end_date!).toBeGreaterThanOrEqual(before);

    // The scheduler requeues try 2: backoff doubles to 20 s, capped at 15 s.
    await e.db.kysely
      .updateTable('task_instance')
      .set({ state: 'queued', try_number: 2 })
      .where('task_id', '=', 'fail_retry')
      .where('run_id', '=', 'run_1')
      .execute();
    expect(await run({ ...key, tryNumber: 2 })).toMatchObject({ state: 'up_for_retry' });
    ti = await tiRow(e.db, 'run_1', 'fail_retry');
    expect(ti.next_retry_at! - ti.end_date!).toBe(15_000);

    await e.db.kysely
      .updateTable('task_instance')
      .set({ state: 'queued', try_number: 3 })
      .where('task_id', '=', 'fail_retry')
      .where('run_id', '=', 'run_1')
      .execute();
    expect(await run({ ...key, tryNumber: 3 })).toMatchObject({ state: 'failed' });
    ti = await tiRow(e.db, 'run_1', 'fail_retry');
    expect(ti.state).toBe('failed');
    expect(ti.next_retry_at).toBeNull();
    expect(readFileSync(taskLogPath(e.logFolder, { ...key, tryNumber: 3 }), 'utf8')).toContain(
      'Marking task as FAILED',
    );
  });

  it('fails FailTaskNow without using the remaining retries', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'fail_now', { maxTries: 3 });
    expect(await run(key)).toMatchObject({ ran: true, state: 'failed' });
    // The final state and the job's end are written together.
    const ti = await tiRow(e.db, 'run_1', 'fail_now');
    expect(ti).toMatchObject({ state: 'failed', try_number: 1 });
    expect(ti.end_date).toBeGreaterThanOrEqual(ti.start_date!);
    const job = await e.db.kysely
      .selectFrom('job')
      .select(['state', 'end_date', 'latest_heartbeat'])
      .where('id', '=', ti.job_id!)
      .executeTakeFirstOrThrow();
    expect(job.state).toBe('failed');
    expect(job.end_date).toBeGreaterThanOrEqual(ti.end_date!);
    expect(job.latest_heartbeat).toBe(job.end_date);
  });

  it('round-trips XCom between two tasks', async () => {
    await run(await seedTaskInstance(e.db, 'run_1', 'push'));
    expect(await run(await seedTaskInstance(e.db, 'run_1', 'pull'))).toMatchObject({ state: 'success' });
    const row = await e.db.kysely
      .selectFrom('xcom')
      .selectAll()
      .where('run_id', '=', 'run_1')
      .where('task_id', '=', 'pull')
      .where('key', '=', 'return_value')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(row.value)).toEqual({ sum: 6 });
  });

  it("stores a try's return value once, replacing a return_value the task pushed itself", async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'push_then_return');
    expect(await run(key)).toMatchObject({ ran: true, state: 'success' });
    const rows = await e.db.kysely
      .selectFrom('xcom')
      .select(['key', 'value'])
      .where('run_id', '=', 'run_1')
      .where('task_id', '=', 'push_then_return')
      .execute();
    expect(rows).toEqual([{ key: 'return_value', value: JSON.stringify('returned') }]);
  });

  it('records the followed branch and a falsy short-circuit for the scheduler', async () => {
    await run(await seedTaskInstance(e.db, 'run_1', 'branch'));
    await run(await seedTaskInstance(e.db, 'run_1', 'gate'));
    const rows = await e.db.kysely
      .selectFrom('xcom')
      .select(['task_id', 'value'])
      .where('run_id', '=', 'run_1')
      .where('key', '=', 'skipmixin_key')
      .orderBy('task_id')
      .execute();
    expect(rows.map((r) => [r.task_id, JSON.parse(r.value)])).toEqual([
      ['branch', { followed: ['left'] }],
      ['gate', { followed: [], skipAllDownstream: true }],
    ]);
  });

  it('refuses to run a try that is not queued for it (no task instance runs twice)', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'quick', { tryNumber: 1 });
    const countJobs = async () =>
      (await e.db.kysely.selectFrom('job').select('id').where('job_type', '=', 'LocalTaskJob').execute())
        .length;
    const jobsBefore = await countJobs();
    const [a, b] = await Promise.all([run(key), run(key)]);
    const ran = [a, b].filter((r) => r.ran);
    expect(ran).toHaveLength(1);
    expect((await tiRow(e.db, 'run_1', 'quick')).state).toBe('success');
    // A stale request for an old try is refused too, and changes nothing.
    const stale = await run({ ...key, tryNumber: 0 });
    expect(stale.ran).toBe(false);
    expect((await tiRow(e.db, 'run_1', 'quick')).state).toBe('success');
    // Only the runner that got the task instance keeps a job row.
    expect(await countJobs()).toBe(jobsBefore + 1);
  });

  it('puts a sensor in reschedule mode up_for_reschedule with a task_reschedule row, keeping the try', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'resched_sensor', { maxTries: 0 });
    const before = Date.now();
    expect(await run(key)).toMatchObject({ ran: true, state: 'up_for_reschedule' });
    const ti = await tiRow(e.db, 'run_1', 'resched_sensor');
    expect(ti.try_number).toBe(1);
    expect(ti.next_retry_at!).toBeGreaterThanOrEqual(before + 5000);
    const rows = await e.db.kysely
      .selectFrom('task_reschedule')
      .selectAll()
      .where('task_id', '=', 'resched_sensor')
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ try_number: 1, reschedule_date: ti.next_retry_at });
  });

  it('fails a timed-out sensor without retry, or skips it with softFail', async () => {
    expect(await run(await seedTaskInstance(e.db, 'run_1', 'timeout_sensor', { maxTries: 2 }))).toMatchObject(
      { state: 'failed' },
    );
    expect(await run(await seedTaskInstance(e.db, 'run_1', 'soft_sensor'))).toMatchObject({
      state: 'skipped',
    });
  });

  it('heartbeats its LocalTaskJob and stops the task when its state is changed from outside', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'heartbeat_watch');
    const running = run(key);
    const job = await waitFor(
      async () => {
        const ti = await tiRow(e.db, 'run_1', 'heartbeat_watch');
        return ti.job_id ? ti.job_id : undefined;
      },
      5000,
      'the job id',
    );
    const first = (
      await e.db.kysely
        .selectFrom('job')
        .select('latest_heartbeat')
        .where('id', '=', job)
        .executeTakeFirstOrThrow()
    ).latest_heartbeat;
    await waitFor(
      async () => {
        const now = (
          await e.db.kysely
            .selectFrom('job')
            .select('latest_heartbeat')
            .where('id', '=', job)
            .executeTakeFirstOrThrow()
        ).latest_heartbeat;
        return now > first || undefined;
      },
      5000,
      'a heartbeat',
    );
    // Someone marks it success from the UI while it runs: the runner stops it and keeps that state.
    await e.db.kysely
      .updateTable('task_instance')
      .set({ state: 'success' })
      .where('task_id', '=', 'heartbeat_watch')
      .where('run_id', '=', 'run_1')
      .execute();
    const result = await running;
    expect(result).toMatchObject({ ran: true, state: 'success' });
    const log = readFileSync(taskLogPath(e.logFolder, key), 'utf8');
    expect(log).toContain('externally set');
    expect(log).not.toMatch(/Marking task as (SUCCESS|FAILED|UP_FOR_RETRY)/);
    expect(log).toContain('changed from outside');
  });

  it('renders var and conn lookups from the variables and connections services', async () => {
    await setVariable(e.db, e.ctx.fernet, 'greeting', 'bonjour');
    await addConnection(e.db, e.ctx.fernet, {
      connId: 'my_conn',
      connType: 'postgres',
      host: 'db.example',
      port: 5433,
      password: 's3cret',
    });
    const key = await seedTaskInstance(e.db, 'run_1', 'templated_secrets', { tryNumber: 2, maxTries: 3 });
    expect(await run(key)).toMatchObject({ state: 'success' });
    const ti = await tiRow(e.db, 'run_1', 'templated_secrets');
    expect(JSON.parse(ti.rendered_fields!)).toMatchObject({
      bashCommand: 'echo "bonjour db.example:5433 run_1 2"',
    });
  });

  it('runs one instance of a mapped task, with its own log folder and XCom', async () => {
    const key = await seedTaskInstance(e.db, 'run_1', 'mapped_echo', { mapIndex: 1 });
    expect(await run(key)).toMatchObject({ state: 'success' });
    const path = taskLogPath(e.logFolder, key);
    expect(path).toContain('/task_id=mapped_echo/map_index=1/attempt=1.log');
    expect(readFileSync(path, 'utf8')).toContain('second 1');
    const xcom = await e.db.kysely
      .selectFrom('xcom')
      .selectAll()
      .where('task_id', '=', 'mapped_echo')
      .executeTakeFirstOrThrow();
    expect([xcom.map_index, JSON.parse(xcom.value)]).toEqual([1, 'second 1']);
  });

  it("counts a rescheduled sensor's timeout from its first poke (task_reschedule), then fails it", async () => {
    await seedDagRun(e.db, 'run_resched', null, Date.UTC(2024, 0, 3));
    const key = await seedTaskInstance(e.db, 'run_resched', 'resched_sensor');
    const longAgo = Date.now() - 20 * 60_000; // timeout is 10 minutes
    await e.db.kysely
      .insertInto('task_reschedule')
      .values({
        dag_id: 'exec_test',
        run_id: 'run_resched',
        task_id: 'resched_sensor',
        map_index: -1,
        try_number: 1,
        start_date: longAgo,
        end_date: longAgo + 10,
        duration: 0.01,
        reschedule_date: longAgo + 5000,
      })
      .execute();
    expect(await run(key)).toMatchObject({ state: 'failed' });
  });
});

describe('which tries read the previous successful run', () => {
  const bash = (bashCommand: string, extra: Record<string, unknown> = {}) =>
    new BashOperator({ taskId: 't', bashCommand, ...extra });

  it('a BashOperator whose templates do not name it does not; one that names it does', () => {
    expect(mayReadPreviousSuccess(bash('echo {{ ds }}'))).toBe(false);
    expect(mayReadPreviousSuccess(bash('echo {{ prev_data_interval_end_success }}'))).toBe(true);
    expect(
      mayReadPreviousSuccess(bash('true', { env: { SINCE: '{{ prev_data_interval_start_success }}' } })),
    ).toBe(true);
  });

  it('user code that gets the context may read it: callbacks, function operators, subclasses', () => {
    expect(mayReadPreviousSuccess(bash('true', { onSuccessCallback: () => undefined }))).toBe(true);
    expect(mayReadPreviousSuccess(new FunctionOperator({ taskId: 'f', fn: () => 1 }))).toBe(true);
    class OwnBash extends BashOperator {}
    expect(mayReadPreviousSuccess(new OwnBash({ taskId: 'o', bashCommand: 'true' }))).toBe(true);
  });
});
