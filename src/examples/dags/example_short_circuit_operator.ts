/** A falsy result skips everything downstream; a truthy one lets it run. */
import { chain, DAG, EmptyOperator, ShortCircuitOperator, TriggerRule } from 'updraft';

export const dag = new DAG({
  dagId: 'example_short_circuit_operator',
  startDate: '2021-01-01',
  catchup: false,
  schedule: null,
  tags: ['example'],
}).build(() => {
  const condIsTrue = new ShortCircuitOperator({ taskId: 'condition_is_True', fn: () => true });
  const condIsFalse = new ShortCircuitOperator({ taskId: 'condition_is_False', fn: () => false });
  const ds1 = [1, 2].map((i) => new EmptyOperator({ taskId: `true_${i}` }));
  const ds2 = [1, 2].map((i) => new EmptyOperator({ taskId: `false_${i}` }));
  chain(condIsTrue, ...ds1);
  chain(condIsFalse, ...ds2);

  const start = new EmptyOperator({ taskId: 'start' });
  const end = new EmptyOperator({ taskId: 'end', triggerRule: TriggerRule.NONE_FAILED });
  const shortCircuit = new ShortCircuitOperator({ taskId: 'short_circuit', fn: () => false });
  const taskAfter = new EmptyOperator({ taskId: 'task_after_short_circuit' });
  chain(start, shortCircuit, taskAfter, end);
});
