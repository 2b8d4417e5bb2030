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
    await h.writeDag(
      'quick.ts',
      `import { DAG, EmptyOperator } from 'updraft';
export const dag = new DAG({ dagId: 'quick', schedule: null, startDate: '2024-01-01' }).build(() => {
  new EmptyOperator({ taskId: 'only' });
});
`,
    );
    await h.parse();
    h.startScheduler();
  }, 60_000);
  afterAll(async () => h?.close());

  it('runs a triggered chain to success in order', async () => {
    const run = await triggerDagRun(await h.ctx.db(), 'chain', { conf: '{"x": 1}' });
    const done = await h.waitForRun('chain', run.run_id);
    const tis = await h.tis('chain', run.run_id);
    expect(statesOf(tis)).toEqual({ a: 'success', b: 'success', c: 'success' });
    expect(done.state).toBe('success');
    expect(tis.b!.start_date!).toBeGreaterThanOrEqual(tis.a!.end_date!);
    expect(tis.a!.try_number).toBe(1);
  });

  it('starts a run triggered while it idles within half a second, not at its next periodic wake-up', async () => {
    // Idle, the scheduler wakes for its own timers about once a second; between them it looks for
    // newly queued runs every 50 ms. Five triggers at random moments all starting within 500 ms
    // would happen by chance about once in 30 without that look.
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      const run = await triggerDagRun(await h.ctx.db(), 'quick');
      const done = await h.waitForRun('quick', run.run_id);
      expect(done.state).toBe('success');
      waits.push(Number(done.start_date) - Number(done.queued_at));
    }
    expect(Math.max(...waits), `queued → running waits: ${waits.join(', ')} ms`).toBeLessThan(500);
  });
});
