import { RETURN_VALUE_KEY } from '../core/xcom-keys.js';
import type { BaseOperator, DependencyNode, DependencyTarget } from './base-operator.js';
import type { TaskContext } from './execution.js';

const XCOM_ARG_BRAND = Symbol.for('updraft.XComArg');

/**
 * A reference to a value another task will produce (TaskFlow call results). Passing it to a task
 * wires the dependency; at run time the value is pulled from XCom. `result.get('key')` refers to
 * one key of a task with multipleOutputs; `result.operator` is the task itself (for `.then()`).
 */
export class XComArg<T = unknown> implements DependencyNode {
  readonly [XCOM_ARG_BRAND] = true;
  // Phantom field so XComArg<number> and XComArg<string> differ in type checks.
  declare readonly __type?: T;
  constructor(
    readonly operator: BaseOperator,
    readonly key = RETURN_VALUE_KEY,
  ) {}

  get<K extends (T extends Record<string, unknown> ? keyof T & string : string)>(
    key: K,
  ): XComArg<T extends Record<string, unknown> ? T[K] : unknown> {
    return new XComArg(this.operator, key);
  }
  dependencyRoots(): BaseOperator[] {
    return [this.operator];
  }
  dependencyLeaves(): BaseOperator[] {
    return [this.operator];
  }
  // Deliberately no then()/after(): an XComArg is awaited and returned from async code, and a
  // then() method would make it look like a promise. Use setDownstream/setUpstream or chain().
  setDownstream(targets: DependencyTarget): void {
    this.operator.setDownstream(targets);
  }
  setUpstream(targets: DependencyTarget): void {
    this.operator.setUpstream(targets);
  }
  describe(): string {
    return `XComArg(${this.operator.taskId}${this.key === RETURN_VALUE_KEY ? '' : `, ${this.key}`})`;
  }
  /** Pull the value for the running task. */
  resolve(context: TaskContext): Promise<unknown> {
    return context.ti.xcomPull({ taskIds: this.operator.taskId, key: this.key });
  }
}

export function isXComArg(value: unknown): value is XComArg {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[XCOM_ARG_BRAND] === true
  );
}

/** Every XComArg inside a value (arrays and plain objects are searched). */
export function findXComArgs(value: unknown, out: XComArg[] = []): XComArg[] {
  if (isXComArg(value)) out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => findXComArgs(v, out));
  else if (isPlainObject(value)) Object.values(value).forEach((v) => findXComArgs(v, out));
  return out;
}

/** Replace every XComArg inside a value with its pulled value. */
export async function resolveXComArgs(value: unknown, context: TaskContext): Promise<unknown> {
  if (isXComArg(value)) return value.resolve(context);
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveXComArgs(v, context)));
  if (isPlainObject(value)) {
    const entries = await Promise.all(
      Object.entries(value).map(async ([k, v]) => [k, await resolveXComArgs(v, context)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
