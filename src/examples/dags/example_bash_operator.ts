/** Bash commands in sequence and in parallel, with a templated command and a skipped task (exit 99). */
import { BashOperator, DAG, EmptyOperator } from 'updraft';

export const dag = new DAG({
  dagId: 'example_bash_operator',
  schedule: '0 0 * * *',
  startDate: '2021-01-01',
  catchup: false,
  dagrunTimeout: { minutes: 60 },
  tags: ['example', 'example2'],
  params: { example_key: 'example_value' },
}).build(() => {
  const runThisLast = new EmptyOperator({ taskId: 'run_this_last' });
  const runThis = new BashOperator({ taskId: 'run_after_loop', bashCommand: 'echo 1' });
  runThis.then(runThisLast);

  for (let i = 0; i < 3; i++) {
    const t = new BashOperator({
      taskId: `runme_${i}`,
      bashCommand: 'echo "{{ task_instance_key_str }}" && sleep 1',
    });
    t.then(runThis);
  }

  const alsoRunThis = new BashOperator({
    taskId: 'also_run_this',
    bashCommand: 'echo "ti_key={{ ti.taskId }} ds={{ ds }}"',
  });
  alsoRunThis.then(runThisLast);

  const thisWillSkip = new BashOperator({
    taskId: 'this_will_skip',
    bashCommand: 'echo "hello world"; exit 99;',
  });
  thisWillSkip.then(runThisLast);
});
