import type { SerializedDag } from '../dag/serialized.js';
import { downstreamMap, taskMap } from './priority.js';

/** Task ids reachable from `start` going upstream or downstream (not including `start`). */
export function relatives(
  dag: SerializedDag,
  start: Iterable<string>,
  direction: 'upstream' | 'downstream',
): Set<string> {
  const tasks = taskMap(dag);
  const down = downstreamMap(dag);
  const next = (id: string) =>
    direction === 'upstream' ? (tasks.get(id)?.upstream ?? []) : (down.get(id) ?? []);
  const seen = new Set<string>();
  const stack = [...start].flatMap(next);
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...next(id));
  }
  return seen;
}
