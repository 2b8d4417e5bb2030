/**
 * Params and the run's conf reach templates and functions:
 *   updraft dags test example_passing_params_via_test_command -c '{"foo": "bar"}'
 */
import { BashOperator, DAG, getCurrentContext, Param, task } from 'updraft';

const myFunction = task(function my_py_command() {
  // TaskFlow functions read the context through getCurrentContext(), as in Airflow.
  const { params, conf } = getCurrentContext();
  console.log(
    `params.foo = ${String(params.foo)}, params.miff = ${String(params.miff)}, conf = ${JSON.stringify(conf)}`,
  );
  return params.foo;
});

export const dag = new DAG({
  dagId: 'example_passing_params_via_test_command',
  schedule: '*/1 * * * *',
  startDate: '2021-01-01',
  catchup: false,
  dagrunTimeout: { minutes: 4 },
  tags: ['example'],
  params: {
    foo: new Param('bar', { type: 'string', description: 'a string param' }),
    miff: new Param('agg', { type: 'string' }),
  },
}).build(() => {
  const runThis = myFunction.override({ taskId: 'run_this' })();
  const alsoRunThis = new BashOperator({
    taskId: 'also_run_this',
    bashCommand: 'echo "foo={{ params.foo }} miff={{ params.miff }}"; echo "FOO is $FOO"',
    env: { FOO: '{{ params.foo }}' },
    appendEnv: true,
  });
  runThis.operator.then(alsoRunThis);
});
