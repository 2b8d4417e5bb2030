/** The child: waits for parent_task of example_external_task_marker_parent at the same logical date. */
import { DAG, EmptyOperator, ExternalTaskSensor } from 'updraft';

export const dag = new DAG({
  dagId: 'example_external_task_marker_child',
  startDate: '2021-01-01',
  schedule: null,
  catchup: false,
  tags: ['example2'],
}).build(() => {
  const child1 = new ExternalTaskSensor({
    taskId: 'child_task1',
    externalDagId: 'example_external_task_marker_parent',
    externalTaskId: 'parent_task',
    timeout: { minutes: 10 },
    pokeInterval: { seconds: 5 },
    allowedStates: ['success'],
    failedStates: ['failed', 'skipped'],
    mode: 'reschedule',
  });
  const child2 = new EmptyOperator({ taskId: 'child_task2' });
  child1.then(child2);
});
