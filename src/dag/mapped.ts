import { ValidationError } from '../errors.js';
import { BaseOperator, partialFactory, type BaseOperatorArgs } from './base-operator.js';
import { outsideAnyDag } from './build-context.js';
import type { TaskContext } from './execution.js';
import type { SerializedTask } from './serialized.js';
import { isXComArg, type XComArg } from './xcom-arg.js';
import { wireXComArgs } from './operators/function.js';

/** Max instances of one mapped task (Airflow's core.max_map_length). */
export const MAX_MAP_LENGTH = 1024;

/** Per expanded argument: a literal list, or an upstream task's XCom (which must be a list). */
export type ExpandInput = Record<string, readonly unknown[] | XComArg>;

export type MapSource = { kind: 'literal'; length: number } | { kind: 'xcom'; taskId: string; key: string };

/**
 * A task expanded at run time into one instance per combination of its expanded arguments
 * (Airflow's `.partial(...).expand(...)`). The runner calls `expandInstances(context)` and
 * `instance(kwargs)`; the scheduler reads serialized `mapped.sources` to know how many to create.
 */
export class MappedOperator extends BaseOperator {
  readonly expandInput: ExpandInput;
  readonly partialArgs: Record<string, unknown>;
  private readonly factory: (args: Record<string, unknown>) => BaseOperator;
  private readonly underlyingName: string;

  constructor(
    partialArgs: BaseOperatorArgs & Record<string, unknown>,
    expandInput: ExpandInput,
    factory: (args: Record<string, unknown>) => BaseOperator,
    underlyingName: string,
  ) {
    super(partialArgs);
    if (!expandInput || typeof expandInput !== 'object' || Object.keys(expandInput).length === 0) {
      throw new ValidationError(`Task '${this.taskId}': expand() needs at least one argument`);
    }
    for (const [k, v] of Object.entries(expandInput)) {
      if (k in partialArgs)
        throw new ValidationError(`Task '${this.taskId}': '${k}' given to both partial() and expand()`);
      if (!isXComArg(v) && !Array.isArray(v))
        throw new ValidationError(`Task '${this.taskId}': expand(${k}) must be a list or a task's output`);
      if (Array.isArray(v) && v.length > MAX_MAP_LENGTH)
        throw new ValidationError(
          `Task '${this.taskId}': expand(${k}) has ${v.length} items, more than ${MAX_MAP_LENGTH}`,
        );
    }
    this.partialArgs = partialArgs;
    this.expandInput = expandInput;
    this.factory = factory;
    this.underlyingName = underlyingName;
    wireXComArgs(this, Object.values(expandInput), Object.values(partialArgs));
  }

  override get operatorName(): string {
    return this.underlyingName;
  }

  /** The argument combinations, in map-index order (cross product of every expanded list). */
  async expandInstances(context: TaskContext): Promise<Record<string, unknown>[]> {
    let combos: Record<string, unknown>[] = [{}];
    for (const [key, source] of Object.entries(this.expandInput)) {
      let values: unknown = source;
      if (isXComArg(source)) values = await source.resolve(context);
      if (values && typeof values === 'object' && !Array.isArray(values)) values = Object.entries(values);
      if (!Array.isArray(values))
        throw new Error(`expand(${key}) of task '${this.taskId}' got ${typeof values}, not a list`);
      combos = combos.flatMap((c) => (values as unknown[]).map((v) => ({ ...c, [key]: v })));
    }
    if (combos.length > MAX_MAP_LENGTH)
      throw new Error(
        `Task '${this.taskId}' would expand into ${combos.length} instances, more than ${MAX_MAP_LENGTH}`,
      );
    return combos;
  }

  /** A concrete operator for one map index (not attached to any DAG's task list). */
  instance(expanded: Record<string, unknown>): BaseOperator {
    const { dag: _d, taskGroup: _g, ...rest } = this.partialArgs;
    const op = outsideAnyDag(() =>
      this.factory({ ...rest, ...expanded, taskId: this.localTaskId, taskGroup: null }),
    );
    // Same id and DAG as the mapped task, so context.dag / context.task read naturally.
    (op as { taskId: string }).taskId = this.taskId;
    op.dag = this.dag;
    return op;
  }

  /**
   * Convenience for the runner: the instance for one map index. Wrapped in an object because an
   * operator has a then() method and must not resolve a promise.
   */
  async instanceFor(
    mapIndex: number,
    context: TaskContext,
  ): Promise<{ operator: BaseOperator; count: number }> {
    const combos = await this.expandInstances(context);
    const kwargs = combos[mapIndex];
    if (!kwargs)
      throw new Error(`Task '${this.taskId}' has no map index ${mapIndex} (${combos.length} instances)`);
    return { operator: this.instance(kwargs), count: combos.length };
  }

  override execute(): Promise<unknown> {
    return Promise.reject(
      new Error(
        `Mapped task '${this.taskId}' cannot run unexpanded; the runner must run instanceFor(mapIndex)`,
      ),
    );
  }

  protected override serializedFlags(): Partial<SerializedTask> {
    const sources: Record<string, MapSource> = {};
    for (const [k, v] of Object.entries(this.expandInput)) {
      sources[k] = isXComArg(v)
        ? { kind: 'xcom', taskId: v.operator.taskId, key: v.key }
        : { kind: 'literal', length: v.length };
    }
    return { mapped: { expandKeys: Object.keys(this.expandInput), sources } };
  }
}

/** What `SomeOperator.partial({...})` returns. */
export class PartialOperator<A extends BaseOperatorArgs> {
  constructor(
    private readonly cls: new (args: A) => BaseOperator,
    private readonly args: Partial<A> & { taskId: string },
  ) {}
  expand(input: { [K in keyof A]?: readonly A[K][] | XComArg }): MappedOperator {
    return new MappedOperator(
      this.args as BaseOperatorArgs & Record<string, unknown>,
      input as ExpandInput,
      (a) => new this.cls(a as A),
      this.cls.name,
    );
  }
}

/** `partial(BashOperator, { taskId, ... }).expand({ bashCommand: [...] })`. */
export function partial<A extends BaseOperatorArgs>(
  cls: new (args: A) => BaseOperator,
  args: Partial<A> & { taskId: string },
): PartialOperator<A> {
  return new PartialOperator(cls, args);
}

partialFactory.create = (cls, args) => new PartialOperator(cls, args);
