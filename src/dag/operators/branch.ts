import { BaseOperator, type BaseOperatorArgs } from '../base-operator.js';
import type { TaskContext } from '../execution.js';
import type { SerializedTask } from '../serialized.js';

/**
 * Subclass and implement chooseBranch(): return the task id(s) to follow; the other direct
 * downstream tasks are skipped by the scheduler (Airflow's BaseBranchOperator).
 */
export abstract class BaseBranchOperator extends BaseOperator {
  abstract chooseBranch(context: TaskContext): Promise<string | string[] | null> | string | string[] | null;
  override async execute(context: TaskContext): Promise<string[]> {
    const chosen = await this.chooseBranch(context);
    const ids = chosen === null ? [] : [chosen].flat();
    context.log.info(`Following branch ${JSON.stringify(ids)}`);
    return ids;
  }
  protected override serializedFlags(): Partial<SerializedTask> {
    return { isBranch: true };
  }
}

export interface BranchOperatorArgs extends BaseOperatorArgs {
  /** Returns the task id(s) to follow. */
  chooseBranch: (context: TaskContext) => Promise<string | string[] | null> | string | string[] | null;
}

/** A branch operator from a function, without subclassing. */
export class BranchOperator extends BaseBranchOperator {
  private readonly choose: BranchOperatorArgs['chooseBranch'];
  constructor(args: BranchOperatorArgs) {
    super(args);
    this.choose = args.chooseBranch;
  }
  chooseBranch(context: TaskContext) {
    return this.choose(context);
  }
}
