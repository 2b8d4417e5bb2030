/** Skips propagate: a task that raises SkipTask skips its all_success downstream; one_success joins differ. */
import { BaseOperator, DAG, EmptyOperator, SkipTask, TriggerRule, type BaseOperatorArgs } from 'updraft';

/** An operator that always skips itself. */
class EmptySkipOperator extends BaseOperator {
  constructor(args: BaseOperatorArgs) {
    super(args);
    this.uiColor = '#e8b7e4';
  }
  override async execute(): Promise<never> {
    throw new SkipTask();
  }
}

function createTestPipeline(suffix: string, triggerRule: (typeof TriggerRule)[keyof typeof TriggerRule]) {
  const skipOperator = new EmptySkipOperator({ taskId: `skip_operator_${suffix}` });
  const alwaysTrue = new EmptyOperator({ taskId: `always_true_${suffix}` });
  const join = new EmptyOperator({ taskId: triggerRule, triggerRule });
  const final = new EmptyOperator({ taskId: `final_${suffix}` });
  skipOperator.then(join);
  alwaysTrue.then(join);
  join.then(final);
}

export const dag = new DAG({
  dagId: 'example_skip_dag',
  schedule: null,
  startDate: '2021-01-01',
  catchup: false,
  tags: ['example'],
}).build(() => {
  createTestPipeline('1', TriggerRule.ALL_SUCCESS);
  createTestPipeline('2', TriggerRule.ONE_SUCCESS);
});
