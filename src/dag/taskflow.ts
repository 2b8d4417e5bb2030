import { ValidationError } from '../errors.js';
import { BaseOperator, type BaseOperatorArgs } from './base-operator.js';
import { currentFrame } from './build-context.js';
import { runWithContext, type TaskContext } from './execution.js';
import { MappedOperator } from './mapped.js';
import { pushMultipleOutputs, wireXComArgs } from './operators/function.js';
import { runBash } from './operators/bash.js';
import { BaseSensorOperator, type BaseSensorArgs, type PokeResult } from './sensors/base.js';
import type { SerializedTask } from './serialized.js';
import { SkipTask } from './execution.js';
import { resolveXComArgs, XComArg } from './xcom-arg.js';

export interface TaskFlowOptions extends Omit<BaseOperatorArgs, 'taskId'> {
  /** Default: the function's name. */
  taskId?: string;
  /** Push each key of the returned object as its own XCom (and `result.get('key')` reads it). */
  multipleOutputs?: boolean;
}
export type SensorTaskOptions = TaskFlowOptions & Omit<BaseSensorArgs, 'taskId'>;

/** An argument of a TaskFlow call: the value itself or another task's result. */
export type Arg<T> = T | XComArg<T>;
type Args<A extends unknown[]> = { [K in keyof A]: Arg<A[K]> };

export interface TaskFlowFunction<A extends unknown[], R> {
  /** Create the task in the DAG being built; returns a reference to its result. */
  (...args: Args<A>): XComArg<Awaited<R>>;
  /** The same function with other task options (Airflow's `.override(task_id=...)`). */
  override(options: TaskFlowOptions): TaskFlowFunction<A, R>;
  /** Map over the last argument: one task instance per item. */
  expand(values: readonly unknown[] | XComArg): XComArg<Awaited<R>[]>;
  /** Fix the leading arguments, then map over the next one. */
  partial(...leading: unknown[]): { expand(values: readonly unknown[] | XComArg): XComArg<Awaited<R>[]> };
  readonly fn: (...args: A) => R;
}

type Kind = 'function' | 'branch' | 'shortCircuit' | 'bash';

const OPERATOR_NAMES: Record<Kind, string> = {
  function: '_FunctionDecoratedOperator',
  branch: '_BranchFunctionDecoratedOperator',
  shortCircuit: '_ShortCircuitDecoratedOperator',
  bash: '_BashDecoratedOperator',
};

/** The operator a TaskFlow call creates: runs `fn(...resolvedArgs)`. */
export class TaskFlowOperator extends BaseOperator {
  // Call arguments are templated, as Airflow's op_args are (XComArgs inside are left alone).
  static override templateFields = ['callArgs'];
  callArgs: unknown[];
  constructor(
    args: BaseOperatorArgs & { multipleOutputs?: boolean },
    private readonly kind: Kind,
    private readonly fn: (...a: unknown[]) => unknown,
    callArgs: unknown[],
  ) {
    super(args);
    this.callArgs = callArgs;
    this.uiColor = '#ffefeb';
    wireXComArgs(this, callArgs);
  }
  private get multipleOutputs(): boolean {
    return (this.args as { multipleOutputs?: boolean }).multipleOutputs ?? false;
  }
  override get operatorName(): string {
    return OPERATOR_NAMES[this.kind];
  }
  override async execute(context: TaskContext): Promise<unknown> {
    const resolved = (await resolveXComArgs(this.callArgs, context)) as unknown[];
    const result = await runWithContext(context, async () => this.fn(...resolved));
    if (this.kind === 'bash') {
      if (typeof result !== 'string' || !result.trim())
        throw new ValidationError(
          `Task '${this.taskId}': a @task.bash function must return a command string`,
        );
      const { code, lastLine } = await runBash(result, {
        env: process.env,
        cwd: undefined,
        signal: context.signal,
        log: context.log,
        start: context.services.startBash,
        graceMs: 5000,
      });
      if (code === 99) throw new SkipTask(`Bash command returned exit code 99. Skipping.`);
      if (code !== 0)
        throw new Error(`Bash command failed. The command returned a non-zero exit code ${String(code)}.`);
      return lastLine;
    }
    if (this.multipleOutputs && result !== undefined) await pushMultipleOutputs(result, context, this.taskId);
    if (this.kind === 'branch') return result === null || result === undefined ? [] : [result].flat();
    return result;
  }
  protected override serializedFlags(): Partial<SerializedTask> {
    return { isBranch: this.kind === 'branch', isShortCircuit: this.kind === 'shortCircuit' };
  }
}

/** A sensor from a function returning boolean | { done, xcom } (Airflow's @task.sensor). */
export class TaskFlowSensor extends BaseSensorOperator {
  callArgs: unknown[];
  constructor(
    args: BaseSensorArgs,
    private readonly fn: (...a: unknown[]) => PokeResult | Promise<PokeResult>,
    callArgs: unknown[],
  ) {
    super(args);
    this.callArgs = callArgs;
    wireXComArgs(this, callArgs);
  }
  override get operatorName(): string {
    return '_SensorDecoratedOperator';
  }
  async poke(context: TaskContext): Promise<PokeResult> {
    const resolved = (await resolveXComArgs(this.callArgs, context)) as unknown[];
    return runWithContext(context, async () => this.fn(...resolved));
  }
}

/** A task id not yet used in the DAG being built: `name`, then `name__1`, `name__2`… (as Airflow). */
function uniqueTaskId(base: string): string {
  const frame = currentFrame();
  if (!frame) return base;
  const full = (id: string) => (frame.group ? frame.group.childId(id) : id);
  if (!frame.dag.hasTask(full(base))) return base;
  for (let i = 1; ; i++) if (!frame.dag.hasTask(full(`${base}__${i}`))) return `${base}__${i}`;
}

function makeTaskFlow<A extends unknown[], R>(
  fn: (...args: A) => R,
  options: TaskFlowOptions,
  build: (args: BaseOperatorArgs & TaskFlowOptions, callArgs: unknown[]) => BaseOperator,
): TaskFlowFunction<A, R> {
  if (typeof fn !== 'function') throw new ValidationError('task() needs a function');
  const baseId = options.taskId ?? fn.name;
  if (!baseId) throw new ValidationError('task(): an anonymous function needs { taskId }');
  const call = (...callArgs: unknown[]) => {
    const op = build({ ...options, taskId: uniqueTaskId(baseId) }, callArgs);
    return new XComArg(op);
  };
  const mapOver = (leading: unknown[], values: readonly unknown[] | XComArg) => {
    const partialArgs = { ...options, taskId: uniqueTaskId(baseId) };
    const mapped = new MappedOperator(
      partialArgs,
      { value: values },
      (a) =>
        build({ ...partialArgs, ...(a as object), taskId: a.taskId as string } as never, [
          ...leading,
          a.value,
        ]),
      build.name,
    );
    wireXComArgs(mapped, leading);
    return new XComArg(mapped);
  };
  return Object.assign(call, {
    override: (more: TaskFlowOptions) => makeTaskFlow(fn, { ...options, ...more }, build),
    expand: (values: readonly unknown[] | XComArg) => mapOver([], values),
    partial: (...leading: unknown[]) => ({
      expand: (values: readonly unknown[] | XComArg) => mapOver(leading, values),
    }),
    fn,
  }) as unknown as TaskFlowFunction<A, R>;
}

function splitArgs<F>(a: F | TaskFlowOptions, b?: F | TaskFlowOptions): [F, TaskFlowOptions] {
  return typeof a === 'function'
    ? [a, (b as TaskFlowOptions | undefined) ?? {}]
    : [b as F, (a as TaskFlowOptions) ?? {}];
}

function flowOperator(kind: Kind) {
  const build = (
    args: BaseOperatorArgs & TaskFlowOptions,
    callArgs: unknown[],
    fn: (...a: unknown[]) => unknown,
  ) => new TaskFlowOperator(args, kind, fn, callArgs);
  return <A extends unknown[], R>(
    a: ((...args: A) => R) | TaskFlowOptions,
    b?: ((...args: A) => R) | TaskFlowOptions,
  ): TaskFlowFunction<A, R> => {
    const [fn, options] = splitArgs(a, b);
    const named = Object.defineProperty(
      (args: BaseOperatorArgs & TaskFlowOptions, callArgs: unknown[]) =>
        build(args, callArgs, fn as (...x: unknown[]) => unknown),
      'name',
      { value: OPERATOR_NAMES[kind] },
    );
    return makeTaskFlow(fn, options, named);
  };
}

const plainTask = flowOperator('function');

/**
 * TaskFlow: `const extract = task(async function extract() { ... })`, then inside a DAG
 * `load(transform(extract()))` creates three tasks wired extract → transform → load, passing
 * the values through XCom. Variants: task.branch, task.shortCircuit, task.sensor, task.bash.
 */
export const task = Object.assign(plainTask, {
  branch: flowOperator('branch'),
  shortCircuit: flowOperator('shortCircuit'),
  bash: flowOperator('bash'),
  sensor<A extends unknown[]>(
    a: ((...args: A) => PokeResult | Promise<PokeResult>) | SensorTaskOptions,
    b?: ((...args: A) => PokeResult | Promise<PokeResult>) | SensorTaskOptions,
  ): TaskFlowFunction<A, PokeResult | Promise<PokeResult>> {
    const [fn, options] = splitArgs<(...args: A) => PokeResult | Promise<PokeResult>>(a, b);
    const build = Object.defineProperty(
      (args: BaseOperatorArgs & TaskFlowOptions, callArgs: unknown[]) =>
        new TaskFlowSensor(args as BaseSensorArgs, fn as never, callArgs),
      'name',
      { value: '_SensorDecoratedOperator' },
    );
    return makeTaskFlow(fn, options, build);
  },
});
