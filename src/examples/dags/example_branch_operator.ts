/** A branch picks one of four paths at random; the others are skipped, and the join still runs. */
import { DAG, EmptyOperator, task, TriggerRule } from 'updraft';

const options = ['branch_a', 'branch_b', 'branch_c', 'branch_d'];

const branching = task.branch(function branching() {
  return options[Math.floor(Math.random() * options.length)]!;
});

export const dag = new DAG({
  dagId: 'example_branch_operator',
  startDate: '2021-01-01',
  catchup: false,
  schedule: '@daily',
  tags: ['example', 'example2'],
}).build(() => {
  const runThisFirst = new EmptyOperator({ taskId: 'run_this_first' });
  const branch = branching();
  runThisFirst.then(branch.operator);

  const join = new EmptyOperator({ taskId: 'join', triggerRule: TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS });
  for (const option of options) {
    const t = new EmptyOperator({ taskId: option });
    const followed = new EmptyOperator({ taskId: `follow_${option}` });
    branch.operator.then(t).then(followed).then(join);
  }
});
