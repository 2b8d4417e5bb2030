/** XCom: push and pull explicitly, return values, and templated pulls in Bash. */
import { BashOperator, DAG, FunctionOperator } from 'updraft';

const value1 = [1, 2, 3];
const value2 = { a: 'b' };

export const dag = new DAG({
  dagId: 'example_xcom',
  schedule: '@once',
  startDate: '2021-01-01',
  catchup: false,
  tags: ['example'],
}).build(() => {
  const push = new FunctionOperator({
    taskId: 'push',
    fn: async (ctx) => {
      await ctx.ti.xcomPush('value from pusher 1', value1);
    },
  });
  const pushByReturning = new FunctionOperator({ taskId: 'push_by_returning', fn: () => value2 });
  const puller = new FunctionOperator({
    taskId: 'puller',
    fn: async (ctx) => {
      const v1 = await ctx.ti.xcomPull({ taskIds: 'push', key: 'value from pusher 1' });
      const v2 = await ctx.ti.xcomPull({ taskIds: 'push_by_returning' });
      if (JSON.stringify(v1) !== JSON.stringify(value1))
        throw new Error(`The two values differ: ${JSON.stringify(v1)} and ${JSON.stringify(value1)}`);
      if (JSON.stringify(v2) !== JSON.stringify(value2))
        throw new Error(`The two values differ: ${JSON.stringify(v2)} and ${JSON.stringify(value2)}`);
      return 'ok';
    },
  });
  [push, pushByReturning].forEach((t) => t.then(puller));

  const bashPush = new BashOperator({
    taskId: 'bash_push',
    bashCommand:
      'echo "bash_push demo" && echo "Manually set xcom value {{ ti.xcomPush(key=\'manually_pushed_value\', value=\'manually_pushed_value\') }}" && echo "value_by_return"',
  });
  const bashPull = new BashOperator({
    taskId: 'bash_pull',
    bashCommand:
      'echo "bash pull demo" && ' +
      "echo \"The xcom pushed manually is {{ ti.xcomPull(task_ids='bash_push', key='manually_pushed_value') }}\" && " +
      'echo "The returned_value xcom is {{ ti.xcomPull(task_ids=\'bash_push\') }}" && ' +
      'echo "finished"',
    doXcomPush: false,
  });
  bashPush.then(bashPull);
});
