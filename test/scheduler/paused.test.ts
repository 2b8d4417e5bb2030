import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pausedRunNotice, setDagPaused, triggerDagRun } from '../../src/dag-runs/index.js';
import { TEST_DIALECTS } from '../support/databases.js';
import { createHarness, statesOf, type Harness } from '../scheduler/support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 22: as in Airflow, a paused DAG's runs are created but not scheduled. A triggered run waits
 * queued, and a run paused midway runs no further task, until the DAG is unpaused.
 */
describe.each(TEST_DIALECTS)('paused DAGs on %s', (dialect) => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness(dialect);
    await h.writeDag(
      'paused.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'paused_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'a', bashCommand: 'sleep 2' }).then(new BashOperator({ taskId: 'b', bashCommand: 'true' }));
});
`,
    );
    await h.parse();
    h.startScheduler();
  }, 60_000);
  afterAll(() => h?.close());

  async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000) {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  it('a run triggered while paused waits queued; pausing midway holds the remaining tasks', async () => {
    // A first run shows the scheduler is up and starts a triggered run at once.
    await triggerDagRun(await h.ctx.db(), 'paused_dag', { runId: 'warm_up' });
    expect((await h.waitForRun('paused_dag', 'warm_up')).state).toBe('success');
    await setDagPaused(await h.ctx.db(), 'paused_dag', true);
    const run = await triggerDagRun(await h.ctx.db(), 'paused_dag', { runId: 'while_paused' });
    expect(await pausedRunNotice(await h.ctx.db(), 'paused_dag')).toMatch(
      /paused_dag is paused: its runs wait until it is unpaused/,
    );
    await sleep(2500);
    expect((await h.runs('paused_dag')).find((r) => r.run_id === run.run_id)!.state).toBe('queued');
    expect(statesOf(await h.tis('paused_dag', run.run_id))).toEqual({ a: null, b: null });

    await setDagPaused(await h.ctx.db(), 'paused_dag', false);
    expect(await pausedRunNotice(await h.ctx.db(), 'paused_dag')).toBeNull();
    await waitFor('a running', async () => (await h.tis('paused_dag', run.run_id)).a!.state === 'running');
    await setDagPaused(await h.ctx.db(), 'paused_dag', true);
    // The task already running finishes; the next one is not scheduled while the DAG is paused.
    await waitFor('a success', async () => (await h.tis('paused_dag', run.run_id)).a!.state === 'success');
    await sleep(2000);
    expect(statesOf(await h.tis('paused_dag', run.run_id))).toEqual({ a: 'success', b: null });
    expect((await h.runs('paused_dag')).find((r) => r.run_id === run.run_id)!.state).toBe('running');

    await setDagPaused(await h.ctx.db(), 'paused_dag', false);
    expect((await h.waitForRun('paused_dag', run.run_id)).state).toBe('success');
  }, 60_000);
});
