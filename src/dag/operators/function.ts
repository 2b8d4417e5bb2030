import { BaseOperator, linkTasks, type BaseOperatorArgs } from '../base-operator.js';
import { runWithContext, type TaskContext } from '../execution.js';
import { findXComArgs, isPlainObject, resolveXComArgs } from '../xcom-arg.js';
import type { SerializedTask } from '../serialized.js';

// User functions declare their own argument types; `unknown[]` would reject `(ctx, n: number) => …`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = (context: TaskContext, ...args: any[]) => unknown;

export interface FunctionOperatorArgs extends BaseOperatorArgs {
  /** Called as fn(context, ...opArgs). */
  fn?: TaskFunction;
  /** Airflow's name for fn. */
  pythonCallable?: TaskFunction;
  opArgs?: unknown[];
  /** Available to fn as context.opKwargs (rendered). */
  opKwargs?: Record<string, unknown>;
  /** Push each key of an object result as its own XCom. */
  multipleOutputs?: boolean;
}

/** Wire upstream edges for every XComArg found in a task's arguments. */
export function wireXComArgs(task: BaseOperator, ...values: unknown[]): void {
  for (const arg of findXComArgs(values)) linkTasks(arg.operator, task);
}

/** Push each key of an object result (multipleOutputs). */
export async function pushMultipleOutputs(
  result: unknown,
  context: TaskContext,
  taskId: string,
): Promise<void> {
  if (!isPlainObject(result)) {
    throw new Error(
      `Task '${taskId}' has multipleOutputs but returned ${Array.isArray(result) ? 'a list' : typeof result}, not an object`,
    );
  }
  for (const [k, v] of Object.entries(result)) await context.ti.xcomPush(k, v);
}

/** Runs a TypeScript function (Airflow's PythonOperator). Its return value becomes XCom return_value. */
export class FunctionOperator extends BaseOperator {
  static override templateFields = ['opArgs', 'opKwargs'];
  opArgs: unknown[];
  opKwargs: Record<string, unknown>;
  protected readonly fn: TaskFunction;
  protected readonly multipleOutputs: boolean;

  constructor(args: FunctionOperatorArgs) {
    super(args);
    const fn = args.fn ?? args.pythonCallable;
    if (typeof fn !== 'function')
      throw new Error(`Task '${this.taskId}': fn (or pythonCallable) must be a function`);
    this.fn = fn;
    this.opArgs = args.opArgs ?? [];
    this.opKwargs = args.opKwargs ?? {};
    this.multipleOutputs = args.multipleOutputs ?? false;
    this.uiColor = '#ffefeb';
    wireXComArgs(this, this.opArgs, this.opKwargs);
  }

  protected async invoke(context: TaskContext): Promise<unknown> {
    const opArgs = (await resolveXComArgs(this.opArgs, context)) as unknown[];
    const opKwargs = (await resolveXComArgs(this.opKwargs, context)) as Record<string, unknown>;
    return this.fn({ ...context, opKwargs }, ...opArgs);
  }

  override async execute(context: TaskContext): Promise<unknown> {
    const result = await runWithContext(context, () => Promise.resolve(this.invoke(context)));
    if (this.multipleOutputs && result !== undefined) await pushMultipleOutputs(result, context, this.taskId);
    context.log.info(`Done. Returned value was: ${truncate(safeJson(result))}`);
    return result;
  }
}

/** Airflow's name. */
export const PythonOperator = FunctionOperator;

/** Follows the task ids the function returns; every other direct downstream task is skipped. */
export class BranchFunctionOperator extends FunctionOperator {
  protected override serializedFlags(): Partial<SerializedTask> {
    return { isBranch: true };
  }
}
export const BranchPythonOperator = BranchFunctionOperator;

/** A falsy result skips everything downstream. */
export class ShortCircuitOperator extends FunctionOperator {
  protected override serializedFlags(): Partial<SerializedTask> {
    return { isShortCircuit: true };
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'None';
  } catch {
    return String(v);
  }
}
function truncate(s: string, n = 500): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
