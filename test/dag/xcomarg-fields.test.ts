import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BashOperator, DAG, task } from '../../src/index.js';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, statesOf, type Harness } from '../scheduler/support/harness.js';

/**
 * Issue 22: an XComArg in a classic operator's templated field (Airflow's bash_command=make() or
 * bash_command=t.output) wires the dependency and is resolved at run time.
 */
describe('XComArg in a templated field', () => {
  it('makes the task depend on the producer (TaskFlow call or .output)', () => {
    const d = new DAG({ dagId: 'xf_unit' }).build(() => {
      const make = task(function make() {
        return 'echo hi';
      });
      const emit = new BashOperator({ taskId: 'emit', bashCommand: 'echo echo there' });
      new BashOperator({ taskId: 'from_call', bashCommand: make() });
      new BashOperator({ taskId: 'from_output', bashCommand: emit.output });
    });
    const s = d.serialize();
    const by = (id: string) => s.tasks.find((t) => t.taskId === id)!;
    const make = s.tasks.find((t) => t.taskId.startsWith('make'))!.taskId;
    expect(by('from_call').upstream).toEqual([make]);
    expect(by('from_output').upstream).toEqual(['emit']);
  });

  describe('at run time', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness('sqlite');
      await h.writeDag(
        'xf.ts',
        `import { DAG, BashOperator, task } from 'updraft';
const make = task(function make() { return 'echo built-by-make'; });
export const dag = new DAG({ dagId: 'xf', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'from_call', bashCommand: make() });
  const emit = new BashOperator({ taskId: 'emit', bashCommand: 'echo echo from-output' });
  new BashOperator({ taskId: 'from_output', bashCommand: emit.output });
});
`,
      );
      await h.parse();
      h.startScheduler();
    }, 60_000);
    afterAll(() => h?.close());

    it('runs the command the upstream task returned', async () => {
      const run = await triggerDagRun(await h.ctx.db(), 'xf', { runId: 'r1' });
      const done = await h.waitForRun('xf', run.run_id, 40_000);
      expect(statesOf(await h.tis('xf', run.run_id))).toEqual({
        make: 'success',
        from_call: 'success',
        emit: 'success',
        from_output: 'success',
      });
      expect(done.state).toBe('success');
      const xcoms = await (
        await h.ctx.db()
      ).kysely
        .selectFrom('xcom')
        .select(['task_id', 'value'])
        .where('dag_id', '=', 'xf')
        .where('task_id', 'in', ['from_call', 'from_output'])
        .where('key', '=', 'return_value')
        .orderBy('task_id')
        .execute();
      expect(xcoms.map((x) => [x.task_id, JSON.parse(x.value) as unknown])).toEqual([
        ['from_call', 'built-by-make'],
        ['from_output', 'from-output'],
      ]);
    }, 60_000);
  });
});
