/** Function operators (Airflow's PythonOperator): printing the context, and several sleeping tasks in parallel. */
import { DAG, FunctionOperator, task } from 'updraft';

const printContext = task(function print_the_context(ds?: string) {
  console.log(`ds passed in: ${String(ds)}`);
  return 'Whatever you return gets printed in the logs';
});

export const dag = new DAG({
  dagId: 'example_python_operator',
  schedule: null,
  startDate: '2021-01-01',
  catchup: false,
  tags: ['example'],
}).build(() => {
  const runThis = printContext('{{ ds }}');

  for (let i = 0; i < 5; i++) {
    const sleeper = new FunctionOperator({
      taskId: `sleep_for_${i}`,
      opArgs: [i / 10],
      fn: async (_context, seconds: number) => {
        await new Promise((r) => setTimeout(r, seconds * 1000));
        return seconds;
      },
    });
    runThis.operator.then(sleeper);
  }
});
