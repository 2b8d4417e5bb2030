import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DagProcessor } from '../../src/dag-processing/processor.js';
import { getSerializedDag } from '../../src/dag-runs/load-dag.js';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { endRun, requestDagCallback } from '../../src/scheduler/request-dag-callback.js';
import { TEST_DIALECTS } from '../support/databases.js';
import { createHarness, type Harness } from './support/harness.js';

// DAG-level callbacks: the scheduler asks for them when a run ends, the DAG processor runs them.
// The callbacks append what they were given to a file, so the test sees each call exactly once.
const dagSource = (logFile: string) => `
import { appendFileSync } from 'node:fs';
import { DAG, BashOperator } from 'updraft';
const record = (kind: string) => (ctx: any) =>
  appendFileSync(${JSON.stringify(logFile)}, JSON.stringify({
    kind, dagId: ctx.dagId, runId: ctx.runId, reason: ctx.reason, ds: ctx.ds, conf: ctx.conf,
    dag: ctx.dag?.dagId, runType: ctx.dag_run?.runType,
  }) + '\\n');
export const ok = new DAG({ dagId: 'cb_ok', schedule: null, startDate: '2024-01-01',
  onSuccessCallback: record('success'), onFailureCallback: record('failure') }).build(() => {
  new BashOperator({ taskId: 't', bashCommand: 'true' });
});
export const bad = new DAG({ dagId: 'cb_bad', schedule: null, startDate: '2024-01-01',
  onFailureCallback: record('failure') }).build(() => {
  new BashOperator({ taskId: 't', bashCommand: 'exit 1' });
});
export const throws = new DAG({ dagId: 'cb_throws', schedule: null, startDate: '2024-01-01',
  onSuccessCallback: () => { throw new Error('alerting is down'); } }).build(() => {
  new BashOperator({ taskId: 't', bashCommand: 'true' });
});
export const none = new DAG({ dagId: 'cb_none', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 't', bashCommand: 'true' });
});
`;

describe.each(TEST_DIALECTS)('DAG-level callbacks on %s', (dialect) => {
  let h: Harness;
  let logFile: string;
  const calls = () =>
    existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];

  beforeAll(async () => {
    h = await createHarness(dialect);
    logFile = join(h.home, 'callbacks.jsonl');
    await h.writeDag('callbacks.ts', dagSource(logFile));
    await h.parse();
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('runs onSuccessCallback / onFailureCallback once per finished run, with the run in the context', async () => {
    const ok = await triggerDagRun(await h.ctx.db(), 'cb_ok', { conf: '{"who": "ops"}' });
    const bad = await triggerDagRun(await h.ctx.db(), 'cb_bad');
    const throws = await triggerDagRun(await h.ctx.db(), 'cb_throws');
    const none = await triggerDagRun(await h.ctx.db(), 'cb_none');
    h.startScheduler();
    expect((await h.waitForRun('cb_ok', ok.run_id)).state).toBe('success');
    expect((await h.waitForRun('cb_bad', bad.run_id)).state).toBe('failed');
    expect((await h.waitForRun('cb_throws', throws.run_id)).state).toBe('success');
    expect((await h.waitForRun('cb_none', none.run_id)).state).toBe('success');
    await h.stopScheduler();
    const db = (await h.ctx.db()).kysely;
    const requests = await db
      .selectFrom('callback_request')
      .select(['dag_id', 'callback', 'reason'])
      .orderBy('dag_id')
      .execute();
    expect(requests).toEqual([
      { dag_id: 'cb_bad', callback: 'on_failure_callback', reason: 'task_failure' },
      { dag_id: 'cb_ok', callback: 'on_success_callback', reason: 'success' },
      { dag_id: 'cb_throws', callback: 'on_success_callback', reason: 'success' },
    ]);
    expect(calls()).toEqual([]); // the scheduler never runs user code

    await h.parse(); // the DAG processor's pass runs them
    const seen = calls().sort((a, b) => String(a.dagId).localeCompare(String(b.dagId)));
    const ds = new Date(ok.logical_date).toISOString().slice(0, 10);
    expect(seen).toEqual([
      {
        kind: 'failure',
        dagId: 'cb_bad',
        runId: bad.run_id,
        reason: 'task_failure',
        ds: expect.any(String),
        conf: {},
        dag: 'cb_bad',
        runType: 'manual',
      },
      {
        kind: 'success',
        dagId: 'cb_ok',
        runId: ok.run_id,
        reason: 'success',
        ds,
        conf: { who: 'ops' },
        dag: 'cb_ok',
        runType: 'manual',
      },
    ]);
    // A callback that throws is logged, not retried; every request is gone.
    expect(await db.selectFrom('callback_request').select('id').execute()).toEqual([]);
    await h.parse();
    expect(calls()).toHaveLength(2);
  }, 90_000);

  it('a running DAG processor runs a new request within seconds, between its parsing passes', async () => {
    const db = (await h.ctx.db()).kysely;
    const run = await db
      .selectFrom('dag_run')
      .select('run_id')
      .where('dag_id', '=', 'cb_ok')
      .executeTakeFirstOrThrow();
    const processor = new DagProcessor(h.ctx, { intervalMs: 60_000 });
    const looping = processor.run();
    try {
      await new Promise((r) => setTimeout(r, 300)); // the first pass
      const before = calls().length;
      await requestDagCallback(db, await getSerializedDag(db, 'cb_ok'), run.run_id, 'success', Date.now());
      const deadline = Date.now() + 10_000;
      while (calls().length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(calls().slice(before)).toEqual([
        expect.objectContaining({ kind: 'success', runId: run.run_id }),
      ]);
    } finally {
      processor.stop();
      await looping;
    }
  }, 30_000);
  it('ends a run and records its callback request together, or neither', async () => {
    const db = (await h.ctx.db()).kysely;
    const run = await triggerDagRun(await h.ctx.db(), 'cb_ok');
    await db.updateTable('dag_run').set({ state: 'running' }).where('run_id', '=', run.run_id).execute();
    const dag = await getSerializedDag(db, 'cb_ok');
    const key = { dagId: 'cb_ok', runId: run.run_id };
    const end = () => endRun(db, dag, key, { state: 'success', end_date: Date.now() }, 'success', Date.now());
    const runState = async () =>
      (
        await db
          .selectFrom('dag_run')
          .select('state')
          .where('run_id', '=', run.run_id)
          .executeTakeFirstOrThrow()
      ).state;
    const requests = () =>
      db.selectFrom('callback_request').select('run_id').where('run_id', '=', run.run_id).execute();
    // The request cannot be written: the run stays running (the next scheduler loop tries again).
    await sql`alter table callback_request rename to callback_request_away`.execute(db);
    try {
      await expect(end()).rejects.toThrow();
    } finally {
      await sql`alter table callback_request_away rename to callback_request`.execute(db);
    }
    expect(await runState()).toBe('running');
    expect(await end()).toBe(true);
    expect(await runState()).toBe('success');
    expect(await requests()).toHaveLength(1);
    // Only the call that ended the run asks for the callback.
    expect(await end()).toBe(false);
    expect(await requests()).toHaveLength(1);
    await db.deleteFrom('callback_request').where('run_id', '=', run.run_id).execute();
  });
});
