import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DIALECTS } from '../support/databases.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';

const DAY = 86_400_000;

/**
 * Issue 22: with several active runs, a dependsOnPast task runs only after the same task in the
 * previous run succeeded or was skipped; a previous instance that has not run yet blocks it, and a
 * failed one keeps it waiting (Airflow's PrevDagrunDep).
 */
describe.each(TEST_DIALECTS)('dependsOnPast across concurrent runs on %s', (dialect) => {
  let h: Harness;
  const midnight = Math.floor(Date.now() / DAY) * DAY;
  const day = (n: number) => new Date(midnight - n * DAY).toISOString().slice(0, 10);

  beforeAll(async () => {
    h = await createHarness(dialect);
    await h.writeDag(
      'past.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'past_concurrent', schedule: '@daily', startDate: '${new Date(midnight - 3 * DAY).toISOString()}', catchup: true, maxActiveRuns: 3 }).build(() => {
  new BashOperator({ taskId: 'slow', dependsOnPast: true, bashCommand: 'sleep 2; [ "{{ ds }}" != "${day(2)}" ]' });
});
`,
    );
    await h.parse();
    h.startScheduler();
  }, 60_000);
  afterAll(() => h?.close());

  it('runs each day only after the previous day ended, and waits behind a failure', async () => {
    const deadline = Date.now() + 40_000;
    let runs = await h.runs('past_concurrent');
    while (Date.now() < deadline) {
      runs = await h.runs('past_concurrent');
      if (runs.length === 3 && runs[1]!.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(runs.map((r) => r.state)).toEqual(['success', 'failed', 'running']);
    const [first, second, third] = await Promise.all(runs.map((r) => h.tis('past_concurrent', r.run_id)));
    expect(second!.slow!.start_date!).toBeGreaterThanOrEqual(first!.slow!.end_date!);
    // Day 3 waits behind day 2's failure: its task never started.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await h.tis('past_concurrent', runs[2]!.run_id)).slow!.state).toBeNull();
    expect(third!.slow!.start_date).toBeNull();
    expect((await h.runs('past_concurrent'))[2]!.state).toBe('running');
  }, 60_000);
});
