/**
 * The parent of a cross-DAG dependency: clearing parent_task also clears child_task1 in
 * example_external_task_marker_child (ExternalTaskMarker), and the child waits for it (ExternalTaskSensor).
 */
import { DAG, ExternalTaskMarker } from 'updraft';

export const dag = new DAG({
  dagId: 'example_external_task_marker_parent',
  startDate: '2021-01-01',
  catchup: false,
  schedule: null,
  tags: ['example2'],
}).build(() => {
  new ExternalTaskMarker({
    taskId: 'parent_task',
    externalDagId: 'example_external_task_marker_child',
    externalTaskId: 'child_task1',
  });
});
