/** Run by example_trigger_controller_dag: prints the message from the run's conf. */
import { BashOperator, DAG, getCurrentContext, task } from 'updraft';

const runThisFunc = task(function run_this() {
  const context = getCurrentContext();
  const message = context.dag_run.conf.message;
  context.log.info(`Remotely received value of ${String(message)} for key=message`);
  return message ?? null;
});

export const dag = new DAG({
  dagId: 'example_trigger_target_dag',
  startDate: '2021-01-01',
  catchup: false,
  schedule: null,
  tags: ['example'],
}).build(() => {
  const runThis = runThisFunc();
  const bashTask = new BashOperator({
    taskId: 'bash_task',
    bashCommand: 'echo "Here is the message: $message"',
    env: { message: '{{ dag_run.conf.message | default("") }}' },
  });
  runThis.operator.then(bashTask);
});
