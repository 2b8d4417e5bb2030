/** Task groups: ids are prefixed with the group, groups nest, and a group is a dependency endpoint. */
import { BashOperator, DAG, EmptyOperator, TaskGroup } from 'updraft';

export const dag = new DAG({
  dagId: 'example_task_group',
  startDate: '2021-01-01',
  catchup: false,
  schedule: null,
  tags: ['example'],
}).build(() => {
  const start = new EmptyOperator({ taskId: 'start' });

  const section1 = new TaskGroup({ groupId: 'section_1', tooltip: 'Tasks for section_1' }, () => {
    const task1 = new EmptyOperator({ taskId: 'task_1' });
    const task2 = new BashOperator({ taskId: 'task_2', bashCommand: 'echo 1' });
    const task3 = new EmptyOperator({ taskId: 'task_3' });
    task1.then([task2, task3]);
  });

  const section2 = new TaskGroup({ groupId: 'section_2', tooltip: 'Tasks for section_2' }, () => {
    const task1 = new EmptyOperator({ taskId: 'task_1' });
    new TaskGroup({ groupId: 'inner_section_2', tooltip: 'Tasks for inner_section2' }, (inner) => {
      const task2 = new BashOperator({ taskId: 'task_2', bashCommand: 'echo 1' });
      const task3 = new EmptyOperator({ taskId: 'task_3' });
      const task4 = new EmptyOperator({ taskId: 'task_4' });
      [task2, task3].forEach((t) => t.then(task4));
      task1.then(inner);
    });
  });

  const end = new EmptyOperator({ taskId: 'end' });
  start.then(section1).then(section2).then(end);
});
