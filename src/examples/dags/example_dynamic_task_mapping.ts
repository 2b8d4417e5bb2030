/** Dynamic task mapping: one task instance per item, from a literal list and from an upstream task's result. */
import { BashOperator, dag, task } from 'updraft';

const addOne = task(function add_one(x: number) {
  return x + 1;
});
const sumIt = task(function sum_it(values: number[]) {
  const total = values.reduce((a, b) => a + b, 0);
  console.log(`Total was ${total}`);
  return total;
});
const makeList = task(function make_list() {
  return [1, 2, 3, 4];
});
const multiply = task(function multiply(factor: number, x: number) {
  return factor * x;
});

export const mapping = dag(
  {
    dagId: 'example_dynamic_task_mapping',
    startDate: '2022-03-04',
    schedule: null,
    catchup: false,
    tags: ['example'],
  },
  () => {
    // Literal list: three instances of add_one; sum_it receives their results as a list.
    const added = addOne.expand([1, 2, 3]);
    sumIt(added);
    // From upstream XCom, with a fixed leading argument.
    multiply.partial(10).expand(makeList());
    // Classic operators too.
    BashOperator.partial({ taskId: 'echo_each', retries: 1 }).expand({
      bashCommand: ['echo one', 'echo two'],
    });
  },
);
