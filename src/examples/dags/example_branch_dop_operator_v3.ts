/** Branches on the minute of the logical date: even → one path, odd → the other. */
import { BranchFunctionOperator, DAG, EmptyOperator } from 'updraft';

export const dag = new DAG({
  dagId: 'example_branch_dop_operator_v3',
  schedule: '*/1 * * * *',
  startDate: '2021-01-01',
  catchup: false,
  defaultArgs: { dependsOnPast: true },
  tags: ['example'],
}).build(() => {
  const condition = new BranchFunctionOperator({
    taskId: 'condition',
    fn: (context) => {
      const minute = context.logical_date.getUTCMinutes();
      context.log.info(`minute of the logical date: ${minute}`);
      return minute % 2 === 0 ? 'oper_1' : 'oper_2';
    },
  });
  condition.then([new EmptyOperator({ taskId: 'oper_1' }), new EmptyOperator({ taskId: 'oper_2' })]);
});
