/**
 * Where newly created tasks go: the DAG (and task group) currently being defined. `dag.build()`,
 * `dag(...)` and `new TaskGroup(..., fn)` push onto this stack for the duration of their callback,
 * like Python's `with DAG(...)`.
 */
import type { DAG } from './dag.js';
import type { TaskGroup } from './task-group.js';

interface Frame {
  dag: DAG;
  group: TaskGroup | null;
}

const stack: Frame[] = [];

export function currentFrame(): Frame | undefined {
  return stack[stack.length - 1];
}

export function withFrame<T>(frame: Frame, fn: () => T): T {
  stack.push(frame);
  try {
    return fn();
  } finally {
    stack.pop();
  }
}

/** Build objects with no DAG in scope (the runner creating mapped instances). */
export function outsideAnyDag<T>(fn: () => T): T {
  const saved = stack.splice(0, stack.length);
  try {
    return fn();
  } finally {
    stack.push(...saved);
  }
}
