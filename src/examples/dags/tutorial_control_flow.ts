/**
 * The control-flow example from the source document, in TypeScript shape:
 *
 *   first_task >> [second_task, third_task]
 *   third_task << fourth_task
 */
import { DAG, EmptyOperator } from 'updraft';

export const dag = new DAG({
  dagId: 'tutorial_control_flow',
  description: 'first_task >> [second_task, third_task]; third_task << fourth_task',
  schedule: null,
  startDate: '2024-01-01',
  catchup: false,
  tags: ['example'],
}).build(() => {
  const firstTask = new EmptyOperator({ taskId: 'first_task' });
  const secondTask = new EmptyOperator({ taskId: 'second_task' });
  const thirdTask = new EmptyOperator({ taskId: 'third_task' });
  const fourthTask = new EmptyOperator({ taskId: 'fourth_task' });

  // The method forms…
  firstTask.setDownstream([secondTask, thirdTask]);
  thirdTask.setUpstream(fourthTask);
  // …and the chainable forms of >> and << give the same graph (adding an edge twice is a no-op).
  firstTask.then([secondTask, thirdTask]);
  thirdTask.after(fourthTask);
});
