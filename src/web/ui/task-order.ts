import type { SerializedDag, SerializedTask } from '../../dag/serialized.js';

/**
 * The order the grid lists tasks in, as Airflow's does: by dependencies (a task after everything
 * upstream of it), with each task group kept together and placed where its first task falls.
 */
export type TaskRow =
  | { kind: 'group'; groupId: string; depth: number; ancestors: string[]; taskIds: string[] }
  | { kind: 'task'; task: SerializedTask; depth: number; ancestors: string[] };

/** Topological rank of every task; ties keep declaration order. */
export function topologicalRank(dag: SerializedDag): Map<string, number> {
  const index = new Map(dag.tasks.map((t, i) => [t.taskId, i]));
  const indegree = new Map<string, number>();
  const downstream = new Map<string, string[]>();
  for (const t of dag.tasks) {
    const ups = t.upstream.filter((u) => index.has(u));
    indegree.set(t.taskId, ups.length);
    for (const u of ups) (downstream.get(u) ?? downstream.set(u, []).get(u)!).push(t.taskId);
  }
  const ready = dag.tasks.filter((t) => indegree.get(t.taskId) === 0).map((t) => t.taskId);
  const rank = new Map<string, number>();
  while (ready.length) {
    ready.sort((a, b) => index.get(a)! - index.get(b)!);
    const id = ready.shift()!;
    rank.set(id, rank.size);
    for (const d of downstream.get(id) ?? []) {
      const left = indegree.get(d)! - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  // A cycle cannot be imported; if one were stored anyway, its tasks go last in declaration order.
  for (const t of dag.tasks) if (!rank.has(t.taskId)) rank.set(t.taskId, rank.size);
  return rank;
}

interface GroupNode {
  groupId: string;
  tasks: SerializedTask[];
  groups: Map<string, GroupNode>;
  minRank: number;
}

export function taskRows(dag: SerializedDag): TaskRow[] {
  const rank = topologicalRank(dag);
  const root: GroupNode = { groupId: '', tasks: [], groups: new Map(), minRank: Infinity };
  for (const task of dag.tasks) {
    const parts = task.groupId ? task.groupId.split('.') : [];
    let node = root;
    node.minRank = Math.min(node.minRank, rank.get(task.taskId)!);
    for (let i = 0; i < parts.length; i++) {
      const gid = parts.slice(0, i + 1).join('.');
      let child = node.groups.get(gid);
      if (!child) {
        child = { groupId: gid, tasks: [], groups: new Map(), minRank: Infinity };
        node.groups.set(gid, child);
      }
      node = child;
      node.minRank = Math.min(node.minRank, rank.get(task.taskId)!);
    }
    node.tasks.push(task);
  }
  const rows: TaskRow[] = [];
  const walk = (node: GroupNode, ancestors: string[]) => {
    const children: ({ rank: number; task: SerializedTask } | { rank: number; group: GroupNode })[] = [
      ...node.tasks.map((task) => ({ rank: rank.get(task.taskId)!, task })),
      ...[...node.groups.values()].map((group) => ({ rank: group.minRank, group })),
    ].sort((a, b) => a.rank - b.rank);
    for (const child of children) {
      if ('task' in child) rows.push({ kind: 'task', task: child.task, depth: ancestors.length, ancestors });
      else {
        rows.push({
          kind: 'group',
          groupId: child.group.groupId,
          depth: ancestors.length,
          ancestors,
          taskIds: descendants(child.group),
        });
        walk(child.group, [...ancestors, child.group.groupId]);
      }
    }
  };
  walk(root, []);
  return rows;
}

function descendants(node: GroupNode): string[] {
  return [...node.tasks.map((t) => t.taskId), ...[...node.groups.values()].flatMap(descendants)];
}

/** States in the order a summary picks them: the first present wins (Airflow's grid rule). */
const SUMMARY_ORDER = [
  'failed',
  'upstream_failed',
  'up_for_retry',
  'up_for_reschedule',
  'running',
  'deferred',
  'restarting',
  'queued',
  'scheduled',
  'success',
  'skipped',
  'removed',
];

/** One state for several task instances (a mapped task's, a group's). */
export function summaryOfStates(states: (string | null)[]): string | null {
  for (const s of SUMMARY_ORDER) if (states.includes(s)) return s;
  return states.find((s) => s !== null) ?? null;
}
