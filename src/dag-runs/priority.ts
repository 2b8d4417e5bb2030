import type { SerializedDag, SerializedTask } from '../dag/serialized.js';

/**
 * Effective priority weights by weight rule: downstream (own + every task downstream),
 * upstream (own + every task upstream), absolute (own).
 */
export function priorityWeights(dag: SerializedDag): Map<string, number> {
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const downstream = downstreamMap(dag);
  const closure = (start: string, next: (id: string) => readonly string[]): Set<string> => {
    const seen = new Set<string>();
    const stack = [...next(start)];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...next(id));
    }
    return seen;
  };
  const out = new Map<string, number>();
  for (const task of dag.tasks) {
    let weight = task.priorityWeight;
    if (task.weightRule !== 'absolute') {
      const related = closure(
        task.taskId,
        task.weightRule === 'downstream'
          ? (id) => downstream.get(id) ?? []
          : (id) => byId.get(id)?.upstream ?? [],
      );
      for (const id of related) weight += byId.get(id)?.priorityWeight ?? 0;
    }
    out.set(task.taskId, weight);
  }
  return out;
}

export function downstreamMap(dag: SerializedDag): Map<string, string[]> {
  const m = new Map<string, string[]>(dag.tasks.map((t) => [t.taskId, []]));
  for (const t of dag.tasks) for (const up of t.upstream) m.get(up)?.push(t.taskId);
  return m;
}

export function taskMap(dag: SerializedDag): Map<string, SerializedTask> {
  return new Map(dag.tasks.map((t) => [t.taskId, t]));
}
