import { DagImportError, ValidationError } from '../errors.js';
import {
  TRIGGER_RULES,
  type SensorSpec,
  type SerializedTask,
  type TriggerRule,
  type WeightRule,
} from './serialized.js';
import { durationToMs, optionalDurationToMs, type Duration } from './duration.js';
import { getAuthoringDefaults } from './defaults.js';
import { currentFrame } from './build-context.js';
import type { TaskContext } from './execution.js';
import type { DAG } from './dag.js';
import type { TaskGroup } from './task-group.js';
import { findXComArgs, XComArg } from './xcom-arg.js';

export type TaskCallback = (context: TaskContext, error?: unknown) => unknown;

/** Arguments every operator takes (Airflow's BaseOperator, camelCase). */
export interface BaseOperatorArgs {
  taskId: string;
  /** Attach to this DAG; default: the DAG being built (`dag.build(() => …)`). */
  dag?: DAG;
  /** Attach inside this group; default: the group being built. */
  taskGroup?: TaskGroup | null;
  owner?: string;
  retries?: number;
  retryDelay?: Duration;
  retryExponentialBackoff?: boolean;
  maxRetryDelay?: Duration | null;
  executionTimeout?: Duration | null;
  triggerRule?: TriggerRule;
  pool?: string;
  poolSlots?: number;
  priorityWeight?: number;
  weightRule?: WeightRule;
  queue?: string;
  dependsOnPast?: boolean;
  onSuccessCallback?: TaskCallback;
  onFailureCallback?: TaskCallback;
  onRetryCallback?: TaskCallback;
  onExecuteCallback?: TaskCallback;
  /** Markdown shown in the UI's task details. */
  docMd?: string;
  doc?: string;
}

/** Keys of BaseOperatorArgs that may come from a DAG's defaultArgs. */
export type DefaultArgs = Partial<Omit<BaseOperatorArgs, 'taskId' | 'dag' | 'taskGroup'>> &
  Record<string, unknown>;

/** Anything that can stand on either side of a dependency: tasks, groups, TaskFlow results, lists of them. */
export interface DependencyNode {
  /** Tasks an incoming edge attaches to. */
  dependencyRoots(): BaseOperator[];
  /** Tasks an outgoing edge leaves from. */
  dependencyLeaves(): BaseOperator[];
}
export type DependencyTarget = DependencyNode | readonly DependencyTarget[];

export function rootsOf(target: DependencyTarget): BaseOperator[] {
  return Array.isArray(target)
    ? (target as readonly DependencyTarget[]).flatMap(rootsOf)
    : (target as DependencyNode).dependencyRoots();
}
export function leavesOf(target: DependencyTarget): BaseOperator[] {
  return Array.isArray(target)
    ? (target as readonly DependencyTarget[]).flatMap(leavesOf)
    : (target as DependencyNode).dependencyLeaves();
}

/** Add the edge upstream → downstream, adopting a DAG-less task into the other's DAG. */
export function linkTasks(upstream: BaseOperator, downstream: BaseOperator): void {
  if (upstream === downstream) throw new DagImportError(`Task '${upstream.taskId}' cannot depend on itself`);
  const a = upstream.dag;
  const b = downstream.dag;
  if (a && b && a !== b) {
    throw new DagImportError(
      `Tried to set relationships between tasks in more than one DAG: '${upstream.taskId}' in '${a.dagId}' and '${downstream.taskId}' in '${b.dagId}'`,
    );
  }
  if (a && !b) a.addTask(downstream);
  if (b && !a) b.addTask(upstream);
  downstream.upstreamTasks.add(upstream);
  upstream.downstreamTasks.add(downstream);
}

/** Set by mapped.ts. */
export const partialFactory: {
  create?: (cls: new (args: BaseOperatorArgs) => BaseOperator, args: BaseOperatorArgs) => unknown;
} = {};

/** Reject `await operator` (a promise adopting an operator calls then(resolve, reject)). */
export function guardThenable(taskId: string, first: unknown, second: unknown): void {
  if (typeof first === 'function') {
    const error = new TypeError(
      `Task '${taskId}' was awaited or used to resolve a promise; operators have a then() method for dependencies, so wrap them in an object`,
    );
    if (typeof second === 'function') (second as (e: unknown) => void)(error);
    throw error;
  }
}

const TASK_ID_RE = /^[A-Za-z0-9_.-]+$/;

export function validateId(id: unknown, what: string): string {
  if (typeof id !== 'string' || id.length === 0)
    throw new ValidationError(`${what} must be a non-empty string`);
  if (id.length > 250)
    throw new ValidationError(`${what} '${id.slice(0, 40)}…' is longer than 250 characters`);
  if (!TASK_ID_RE.test(id))
    throw new ValidationError(`${what} '${id}' may contain only letters, digits, '_', '-' and '.'`);
  return id;
}

/**
 * The base of every task. Subclasses implement `execute(context)` (see execution.ts for the
 * contract) and list their templated fields in `templateFields`.
 */
export abstract class BaseOperator implements DependencyNode {
  /** Names of fields rendered with templates before execute. */
  static templateFields: readonly string[] = [];
  readonly taskId: string;
  /** The id as given, before a task group prefixed it. */
  readonly localTaskId: string;
  dag: DAG | undefined;
  readonly taskGroup: TaskGroup | null;
  readonly upstreamTasks = new Set<BaseOperator>();
  readonly downstreamTasks = new Set<BaseOperator>();
  /** Arguments as given (after defaultArgs were merged in by the DAG). */
  protected readonly args: BaseOperatorArgs;
  uiColor: string | null = null;

  constructor(args: BaseOperatorArgs) {
    if (!args || typeof args !== 'object')
      throw new ValidationError('An operator needs an arguments object with a taskId');
    const frame = currentFrame();
    const group = args.taskGroup !== undefined ? args.taskGroup : (frame?.group ?? null);
    const dag = args.dag ?? group?.dag ?? frame?.dag;
    this.localTaskId = validateId(args.taskId, 'taskId');
    this.taskGroup = group;
    this.taskId = group ? group.childId(this.localTaskId) : this.localTaskId;
    // Merge the DAG's defaultArgs under the explicit ones, as Airflow does.
    this.args = { ...(dag?.defaultArgs ?? {}), ...stripUndefined(args) } as BaseOperatorArgs;
    if (this.args.triggerRule !== undefined && !TRIGGER_RULES.includes(this.args.triggerRule)) {
      throw new ValidationError(
        `Task '${this.taskId}': unknown triggerRule '${String(this.args.triggerRule)}' (one of ${TRIGGER_RULES.join(', ')})`,
      );
    }
    this.checkNumbers();
    this.dag = undefined;
    if (dag) dag.addTask(this);
    group?.addChild(this);
  }

  private checkNumbers(): void {
    const a = this.args;
    const nonNegInt = (v: unknown, name: string) => {
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
        throw new ValidationError(`Task '${this.taskId}': ${name} must be a non-negative integer`);
      }
    };
    nonNegInt(a.retries, 'retries');
    nonNegInt(a.poolSlots, 'poolSlots');
    if (a.poolSlots === 0) throw new ValidationError(`Task '${this.taskId}': poolSlots must be at least 1`);
    if (
      a.priorityWeight !== undefined &&
      (typeof a.priorityWeight !== 'number' || !Number.isInteger(a.priorityWeight))
    ) {
      throw new ValidationError(`Task '${this.taskId}': priorityWeight must be an integer`);
    }
    if (a.weightRule !== undefined && !['downstream', 'upstream', 'absolute'].includes(a.weightRule)) {
      throw new ValidationError(`Task '${this.taskId}': weightRule must be downstream, upstream or absolute`);
    }
    // Durations are checked here so a bad value fails at import time with the task named.
    try {
      if (a.retryDelay !== undefined) durationToMs(a.retryDelay, 'retryDelay');
      optionalDurationToMs(a.maxRetryDelay, 'maxRetryDelay');
      optionalDurationToMs(a.executionTimeout, 'executionTimeout');
    } catch (error) {
      throw new ValidationError(`Task '${this.taskId}': ${(error as Error).message}`);
    }
  }

  // ---- arguments, resolved against installation defaults ----
  get owner(): string {
    return this.args.owner ?? getAuthoringDefaults().owner;
  }
  get retries(): number {
    return this.args.retries ?? getAuthoringDefaults().retries;
  }
  get retryDelayMs(): number {
    return this.args.retryDelay === undefined ? 300_000 : durationToMs(this.args.retryDelay);
  }
  get executionTimeoutMs(): number | null {
    return optionalDurationToMs(this.args.executionTimeout, 'executionTimeout');
  }
  get triggerRule(): TriggerRule {
    return this.args.triggerRule ?? 'all_success';
  }
  get callbacks(): Pick<
    BaseOperatorArgs,
    'onSuccessCallback' | 'onFailureCallback' | 'onRetryCallback' | 'onExecuteCallback'
  > {
    return {
      onSuccessCallback: this.args.onSuccessCallback,
      onFailureCallback: this.args.onFailureCallback,
      onRetryCallback: this.args.onRetryCallback,
      onExecuteCallback: this.args.onExecuteCallback,
    };
  }

  /** The operator class name shown in the UI. */
  get operatorName(): string {
    return this.constructor.name;
  }

  /** Airflow's `task.output`: this task's return value, for another task's argument or field. */
  get output(): XComArg {
    return new XComArg(this);
  }

  /**
   * An XComArg in a templated field (Airflow's bash_command=make()) makes this task depend on the
   * task that produces it; the value is pulled when the fields are rendered.
   */
  linkTemplatedXComArgs(): void {
    const self = this as unknown as Record<string, unknown>;
    for (const field of this.templateFields)
      for (const arg of findXComArgs(self[field]))
        if (arg.operator !== this && !this.upstreamTasks.has(arg.operator)) linkTasks(arg.operator, this);
  }

  /** Field names rendered before execute (from the class's static templateFields). */
  get templateFields(): readonly string[] {
    return (this.constructor as typeof BaseOperator).templateFields;
  }

  get upstreamTaskIds(): string[] {
    return [...this.upstreamTasks].map((t) => t.taskId);
  }
  get downstreamTaskIds(): string[] {
    return [...this.downstreamTasks].map((t) => t.taskId);
  }

  /**
   * The object one try runs: a shallow copy, as Airflow's `prepare_for_execution`, so rendering
   * templated fields and anything execute() sets on `this` stay with this try while the DAG
   * definition (which a warm task process keeps between tries) is left as declared.
   */
  prepareForExecution(): this {
    return Object.assign(Object.create(Object.getPrototypeOf(this) as object) as this, this);
  }

  /** Do the task's work. See execution.ts for what results and errors mean. */
  abstract execute(context: TaskContext): Promise<unknown>;

  /**
   * Dynamic task mapping: `BashOperator.partial({ taskId: 'x' }).expand({ bashCommand: [...] })`.
   * (Implemented in mapped.ts, installed through partialFactory to avoid an import cycle.)
   */
  static partial<A extends BaseOperatorArgs, O extends BaseOperator>(
    this: new (args: A) => O,
    args: Partial<A> & { taskId: string },
  ): { expand(input: { [K in keyof A]?: readonly A[K][] | import('./xcom-arg.js').XComArg }): BaseOperator } {
    if (!partialFactory.create)
      throw new Error('updraft: mapping support is not loaded (import from the package entry point)');
    return partialFactory.create(
      this as unknown as new (args: BaseOperatorArgs) => BaseOperator,
      args,
    ) as never;
  }

  // ---- dependencies (Airflow's >>, <<, set_downstream, set_upstream) ----
  dependencyRoots(): BaseOperator[] {
    return [this];
  }
  dependencyLeaves(): BaseOperator[] {
    return [this];
  }

  /** this → each of `targets`. */
  setDownstream(targets: DependencyTarget): void {
    for (const t of rootsOf(targets)) linkTasks(this, t);
  }
  /** each of `targets` → this. */
  setUpstream(targets: DependencyTarget): void {
    for (const t of leavesOf(targets)) linkTasks(t, this);
  }
  /**
   * `a.then(b)` is Airflow's `a >> b`; returns `b` so calls chain: `a.then(b).then(c)`.
   * Because of this method an operator looks like a promise to `await`: never resolve a promise
   * with an operator (wrap it in an object). If that happens anyway, the promise rejects with an
   * explanation instead of wiring a dependency to a callback.
   */
  then<T extends DependencyTarget>(targets: T, ...promiseCallbacks: unknown[]): T {
    guardThenable(this.taskId, targets, promiseCallbacks[0]);
    this.setDownstream(targets);
    return targets;
  }
  /** `a.after(b)` is Airflow's `a << b`; returns `b`. */
  after<T extends DependencyTarget>(targets: T): T {
    this.setUpstream(targets);
    return targets;
  }

  // ---- serialization ----
  /** Sensor settings, for sensors. */
  protected sensorSpec(): SensorSpec | null {
    return null;
  }
  /** Extra serialized flags a subclass sets (isBranch, isShortCircuit, isEmpty, mapped…). */
  protected serializedFlags(): Partial<SerializedTask> {
    return {};
  }

  /** Current values of the templated fields, unrendered. */
  templateValues(): Record<string, unknown> {
    const values: Record<string, unknown> = {};
    for (const f of this.templateFields) {
      const v = (this as unknown as Record<string, unknown>)[f];
      if (typeof v !== 'function' && v !== undefined) values[f] = jsonSafe(v);
    }
    return values;
  }

  serialize(): SerializedTask {
    const a = this.args;
    const d = getAuthoringDefaults();
    return {
      taskId: this.taskId,
      operator: this.operatorName,
      upstream: this.upstreamTaskIds.sort(),
      owner: this.owner,
      triggerRule: this.triggerRule,
      retries: this.retries,
      retryDelayMs: this.retryDelayMs,
      retryExponentialBackoff: a.retryExponentialBackoff ?? false,
      maxRetryDelayMs: optionalDurationToMs(a.maxRetryDelay, 'maxRetryDelay'),
      executionTimeoutMs: this.executionTimeoutMs,
      pool: a.pool ?? d.pool,
      poolSlots: a.poolSlots ?? 1,
      priorityWeight: a.priorityWeight ?? 1,
      weightRule: a.weightRule ?? 'downstream',
      queue: a.queue ?? d.queue,
      dependsOnPast: a.dependsOnPast ?? false,
      templateFields: [...this.templateFields],
      templateValues: this.templateValues(),
      isEmpty: false,
      isBranch: false,
      isShortCircuit: false,
      sensor: this.sensorSpec(),
      mapped: null,
      groupId: this.taskGroup?.groupId ?? null,
      doc: a.docMd ?? a.doc ?? null,
      uiColor: this.uiColor,
      hasCallbacks: {
        onSuccess: typeof a.onSuccessCallback === 'function',
        onFailure: typeof a.onFailureCallback === 'function',
        onRetry: typeof a.onRetryCallback === 'function',
        onExecute: typeof a.onExecuteCallback === 'function',
      },
      ...this.serializedFlags(),
    };
  }
}

export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A JSON-able view of a field value (functions and XComArgs become descriptive text). */
export function jsonSafe(value: unknown): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'function') return `<function ${value.name || 'anonymous'}>`;
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object') {
    const describe = (value as { describe?: () => string }).describe;
    if (typeof describe === 'function') return describe.call(value);
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, jsonSafe(v)]),
    );
  }
  return String(value);
}
