/** Triggers example_trigger_target_dag with a message in the run's conf. */
import { DAG, TriggerDagRunOperator } from 'updraft';

export const dag = new DAG({
  dagId: 'example_trigger_controller_dag',
  startDate: '2021-01-01',
  catchup: false,
  schedule: '@once',
  tags: ['example'],
}).build(() => {
  new TriggerDagRunOperator({
    taskId: 'test_trigger_dagrun',
    triggerDagId: 'example_trigger_target_dag',
    conf: { message: 'Hello World' },
  });
});
