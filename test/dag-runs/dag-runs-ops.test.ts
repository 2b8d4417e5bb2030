import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clearTaskInstances,
  createDagRun,
  deleteDag,
  getSerializedDag,
  setDagPaused,
  setDagRunState,
  setTaskInstanceState,
  triggerDagRun,
} from '../../src/dag-runs/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../../src/errors.js';
import { backfill } from '../../src/scheduler/backfill.js';
import { TEST_DIALECTS } from '../support/databases.js';
import { createHarness, statesOf, type Harness } from '../scheduler/support/harness.js';

const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);

describe.each(TEST_DIALECTS)('run and task-instance operations on %s', (dialect) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(dialect);
    await h.writeDag(
      'ops.ts',
      `import { DAG, BashOperator, Param } from 'updraft';
export const dag = new DAG({ dagId: 'ops', schedule: '@daily', startDate: '2024-01-01', catchup: false,
  params: { n: new Param(1, { type: 'integer', minimum: 0 }) } }).build(() => {
  const a = new BashOperator({ taskId: 'a', bashCommand: 'true', retries: 2 });
  const b = new BashOperator({ taskId: 'b', bashCommand: 'true' });
  const c = new BashOperator({ taskId: 'c', bashCommand: 'true' });
  a.then(b).then(c);
});
`,
    );
    await h.parse();
  }, 60_000);
  afterAll(async () => h?.close(), 60_000);

  const db = async () => (await h.ctx.db()).kysely;
  const count = async (table: 'dag_run' | 'task_instance' | 'log') =>
    Number(
      (
        await (
          await db()
        )
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('dag_id', '=', 'ops')
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('triggers with conf and validates params; bad input creates nothing', async () => {
    const before = await count('dag_run');
    await expect(triggerDagRun(await h.ctx.db(), 'ops', { conf: '{not json' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(triggerDagRun(await h.ctx.db(), 'ops', { conf: '[1,2]' })).rejects.toThrow(/JSON object/);
    await expect(triggerDagRun(await h.ctx.db(), 'ops', { conf: { n: -5 } })).rejects.toThrow(/param 'n'/);
    await expect(triggerDagRun(await h.ctx.db(), 'ops', { runId: 'scheduled__x' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(triggerDagRun(await h.ctx.db(), 'nope')).rejects.toBeInstanceOf(NotFoundError);
    expect(await count('dag_run')).toBe(before);
    const run = await triggerDagRun(await h.ctx.db(), 'ops', {
      conf: { n: 3 },
      runId: 'my_run',
      logicalDate: START + 5 * DAY + 3600_000,
    });
    expect(run).toMatchObject({ run_id: 'my_run', run_type: 'manual', state: 'queued', external_trigger: 1 });
    expect(JSON.parse(run.conf!)).toEqual({ n: 3 });
    // A manual run of a daily DAG covers the previous complete day.
    expect([run.data_interval_start, run.data_interval_end]).toEqual([START + 4 * DAY, START + 5 * DAY]);
    expect(statesOf(await h.tis('ops', 'my_run'))).toEqual({ a: null, b: null, c: null });
    await expect(triggerDagRun(await h.ctx.db(), 'ops', { runId: 'my_run' })).rejects.toBeInstanceOf(
      ConflictError,
    );
    await expect(
      triggerDagRun(await h.ctx.db(), 'ops', { logicalDate: START + 5 * DAY + 3600_000 }),
    ).rejects.toThrow(/already has a run at logical date/);
  });

  it('clears by regex with downstream, extends max_tries and re-queues the run', async () => {
    const dag = await getSerializedDag(await db(), 'ops');
    const run = await createDagRun(await db(), {
      dag,
      runType: 'manual',
      logicalDate: START,
      dataInterval: { start: START, end: START },
      runId: 'to_clear',
    });
    const k = await db();
    await k
      .updateTable('task_instance')
      .set({ state: 'failed', try_number: 3 })
      .where('run_id', '=', 'to_clear')
      .where('task_id', '=', 'a')
      .execute();
    await k
      .updateTable('task_instance')
      .set({ state: 'upstream_failed' })
      .where('run_id', '=', 'to_clear')
      .where('task_id', 'in', ['b', 'c'])
      .execute();
    await k
      .updateTable('dag_run')
      .set({ state: 'failed', end_date: Date.now() })
      .where('id', '=', run.id)
      .execute();
    await expect(clearTaskInstances(await h.ctx.db(), 'ops', { taskRegex: '(' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    const dry = await clearTaskInstances(await h.ctx.db(), 'ops', {
      taskRegex: '^a$',
      runId: 'to_clear',
      dryRun: true,
    });
    expect(dry.map((t) => t.task_id)).toEqual(['a']);
    expect((await h.tis('ops', 'to_clear')).a!.state).toBe('failed');
    const cleared = await clearTaskInstances(await h.ctx.db(), 'ops', {
      taskRegex: '^a$',
      downstream: true,
      onlyFailed: true,
      start: START,
      end: START,
    });
    expect(cleared.map((t) => t.task_id).sort()).toEqual(['a', 'b', 'c']);
    const tis = await h.tis('ops', 'to_clear');
    expect(statesOf(tis)).toEqual({ a: null, b: null, c: null });
    expect(tis.a!.max_tries).toBe(3 + 2);
    const after = await k
      .selectFrom('dag_run')
      .selectAll()
      .where('id', '=', run.id)
      .executeTakeFirstOrThrow();
    expect([after.state, after.end_date]).toEqual(['queued', null]);
  });

  it('marks task instances and runs', async () => {
    const dag = await getSerializedDag(await db(), 'ops');
    await createDagRun(await db(), {
      dag,
      runType: 'manual',
      logicalDate: START + DAY,
      dataInterval: null,
      runId: 'to_mark',
    });
    await setTaskInstanceState(await h.ctx.db(), {
      dagId: 'ops',
      runId: 'to_mark',
      taskId: 'b',
      state: 'success',
      upstream: true,
    });
    expect(statesOf(await h.tis('ops', 'to_mark'))).toEqual({ a: 'success', b: 'success', c: null });
    await expect(
      setTaskInstanceState(await h.ctx.db(), {
        dagId: 'ops',
        runId: 'to_mark',
        taskId: 'zz',
        state: 'success',
      }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await setDagRunState(await h.ctx.db(), 'ops', 'to_mark', 'failed');
    expect(statesOf(await h.tis('ops', 'to_mark'))).toEqual({ a: 'success', b: 'success', c: 'skipped' });
    await h.ctx
      .db()
      .then((m) =>
        m.kysely
          .updateTable('task_instance')
          .set({ state: 'failed' })
          .where('run_id', '=', 'to_mark')
          .where('task_id', '=', 'b')
          .execute(),
      );
    await setDagRunState(await h.ctx.db(), 'ops', 'to_mark', 'success');
    // Failed and unfinished become success; skipped stays skipped (it counts as done).
    expect(statesOf(await h.tis('ops', 'to_mark'))).toEqual({ a: 'success', b: 'success', c: 'skipped' });
    await expect(setDagRunState(await h.ctx.db(), 'ops', 'to_mark', 'running')).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('backfills every interval in range, with dry run and reset', async () => {
    const from = START + 10 * DAY;
    const to = START + 13 * DAY;
    const dry = await backfill(await h.ctx.db(), 'ops', { start: from, end: to, dryRun: true });
    expect(dry.intervals.map((i) => i.logicalDate)).toEqual([0, 1, 2, 3].map((d) => from + d * DAY));
    expect(dry.created).toEqual([]);
    const first = await backfill(await h.ctx.db(), 'ops', { start: from, end: to });
    expect(first.created.map((r) => r.run_id)).toEqual(
      [0, 1, 2, 3].map(
        (d) => `backfill__${new Date(from + d * DAY).toISOString().replace('.000Z', '+00:00')}`,
      ),
    );
    const again = await backfill(await h.ctx.db(), 'ops', { start: from, end: to });
    expect([again.created.length, again.existing.length]).toEqual([0, 4]);
    const reset = await backfill(await h.ctx.db(), 'ops', { start: from, end: from, resetDagRuns: true });
    expect(reset.created).toHaveLength(1);
    await expect(backfill(await h.ctx.db(), 'ops', { start: to, end: from })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('pauses, unpauses and deletes a DAG', async () => {
    await setDagPaused(await h.ctx.db(), 'ops', true);
    expect(
      (
        await (
          await db()
        )
          .selectFrom('dag')
          .select('is_paused')
          .where('dag_id', '=', 'ops')
          .executeTakeFirstOrThrow()
      ).is_paused,
    ).toBe(1);
    await setDagPaused(await h.ctx.db(), 'ops', false);
    await expect(setDagPaused(await h.ctx.db(), 'missing', true)).rejects.toBeInstanceOf(NotFoundError);
    const logsBefore = await count('log');
    await (
      await db()
    )
      .insertInto('log')
      .values({
        dttm: Date.now(),
        dag_id: 'ops',
        event: 'trigger',
        owner: 'admin',
        extra: null,
        task_id: null,
        map_index: null,
        run_id: null,
      })
      .execute();
    expect(await deleteDag(await h.ctx.db(), 'ops')).toBeGreaterThan(0);
    expect(await count('dag_run')).toBe(0);
    // The audit trail outlives the DAG (Airflow's keep_records_in_log).
    expect(await count('log')).toBe(logsBefore + 1);
    expect(await count('task_instance')).toBe(0);
  });
});
