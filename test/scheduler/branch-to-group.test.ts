import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, statesOf, type Harness } from '../scheduler/support/harness.js';

/** Issue 22: a branch that returns a task group's id follows the group's root tasks (Airflow). */
describe('branching to a task group', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness('sqlite');
    await h.writeDag(
      'branch_group.ts',
      `import { DAG, BashOperator, TaskGroup, task } from 'updraft';
export const dag = new DAG({ dagId: 'branch_group', schedule: null, startDate: '2024-01-01' }).build(() => {
  const pick = task.branch({ taskId: 'pick' }, () => 'grp')();
  const grp = new TaskGroup('grp', () => {
    new BashOperator({ taskId: 'first', bashCommand: 'true' }).then(new BashOperator({ taskId: 'second', bashCommand: 'true' }));
    new BashOperator({ taskId: 'also_root', bashCommand: 'true' });
  });
  const other = new BashOperator({ taskId: 'other', bashCommand: 'true' });
  pick.operator.then([grp, other]);
});
`,
    );
    await h.parse();
    h.startScheduler();
  }, 60_000);
  afterAll(() => h?.close());

  it("runs the group's tasks and skips the other branch", async () => {
    const run = await triggerDagRun(await h.ctx.db(), 'branch_group', { runId: 'r1' });
    const done = await h.waitForRun('branch_group', run.run_id, 40_000);
    expect(statesOf(await h.tis('branch_group', run.run_id))).toEqual({
      pick: 'success',
      'grp.first': 'success',
      'grp.second': 'success',
      'grp.also_root': 'success',
      other: 'skipped',
    });
    expect(done.state).toBe('success');
  }, 60_000);
});
