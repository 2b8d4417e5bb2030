import { BaseOperator, type BaseOperatorArgs } from '../base-operator.js';
import type { SerializedTask } from '../serialized.js';

/** Does nothing; the scheduler marks it success without starting a process. */
export class EmptyOperator extends BaseOperator {
  constructor(args: BaseOperatorArgs) {
    super(args);
    this.uiColor = '#e8f7e4';
  }
  override async execute(): Promise<undefined> {
    return undefined;
  }
  protected override serializedFlags(): Partial<SerializedTask> {
    return { isEmpty: true };
  }
}

/** Airflow 1.x name of EmptyOperator. */
export const DummyOperator = EmptyOperator;
