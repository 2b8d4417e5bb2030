import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, statesOf, type Harness } from './support/harness.js';

describe('scheduler smoke (sqlite)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('sqlite');
    await h.writeDag(
      'chain.ts',
      `import { DAG, BashOperator, EmptyOperator } from 'updraft';
export const dag = new DAG({ dagId: 'chain', schedule: null, startDate: '2024-01-01' }).build(() => {
  const a = new BashOperator({ taskId: 'a', bashCommand: 'echo a' });
  const b = new BashOperator({ taskId: 'b', bashCommand: 'echo b' });
  const c = new EmptyOperator({ taskId: 'c' });
  a.then(b);
  b.then(c);
});
`,
    );
    await h.parse();
    h.startScheduler();
  }, 60_000);
  afterAll(async () => h?.close());

  it('runs a triggered chain to success in order', async () => {
    const run = await triggerDagRun(h.ctx, 'chain', { conf: '{"x": 1}' });
    const done = await h.waitForRun('chain', run.run_id);
    const tis = await h.tis('chain', run.run_id);
    expect(statesOf(tis)).toEqual({ a: 'success', b: 'success', c: 'success' });
    expect(done.state).toBe('success');
    expect(tis.b!.start_date!).toBeGreaterThanOrEqual(tis.a!.end_date!);
    expect(tis.a!.try_number).toBe(1);
  });
});
