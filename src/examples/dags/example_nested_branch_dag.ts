/** A branch inside a branch: the inner join still runs when one inner path is skipped. */
import { DAG, EmptyOperator, task, TriggerRule } from 'updraft';

const branch1 = task.branch(function branch_1() {
  return 'true_1';
});
const branch2 = task.branch(function branch_2() {
  return 'true_2';
});

export const dag = new DAG({
  dagId: 'example_nested_branch_dag',
  startDate: '2021-01-01',
  catchup: false,
  schedule: '@daily',
  tags: ['example'],
}).build(() => {
  const b1 = branch1().operator;
  const true1 = new EmptyOperator({ taskId: 'true_1' });
  const false1 = new EmptyOperator({ taskId: 'false_1' });
  const join1 = new EmptyOperator({ taskId: 'join_1', triggerRule: TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS });
  const b2 = branch2().operator;
  const true2 = new EmptyOperator({ taskId: 'true_2' });
  const false2 = new EmptyOperator({ taskId: 'false_2' });
  const false3 = new EmptyOperator({ taskId: 'false_3' });
  const join2 = new EmptyOperator({ taskId: 'join_2', triggerRule: TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS });

  b1.then(true1).then(join1);
  b1.then(false1).then(b2);
  b2.then([true2, false2]);
  true2.then(join2);
  false2.then(false3).then(join2);
  join2.then(join1);
});
