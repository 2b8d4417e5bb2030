import type { SerializedDag, SerializedTask } from '../dag/serialized.js';
import type { DagRunState, TaskInstanceState } from '../db/tables.js';
import { countUpstreamInto, emptyCounts, evaluateTriggerRule, type UpstreamCounts } from './trigger-rules.js';

/** The part of a task instance the dependency evaluation looks at. */
export interface TiView {
  taskId: string;
  mapIndex: number;
  state: TaskInstanceState | null;
  nextRetryAt: number | null;
}

/** What a branch / short-circuit task chose (XCom `skipmixin_key`, written by the task runner). */
export interface SkipChoice {
  followed: string[];
  skipAllDownstream?: boolean;
}

export type ChangeKind =
  /** Dependencies met: ready for the executor (pools and limits are checked when queueing). */
  | 'schedule'
  /** EmptyOperator: success without an executor. */
  | 'empty_success'
  | 'skip'
  | 'upstream_failed'
  /** A mapped task's placeholder whose upstreams are done: expand it into its instances. */
  | 'expand'
  /** The task is no longer in the DAG. */
  | 'remove';

export interface TiChange {
  kind: ChangeKind;
  taskId: string;
  mapIndex: number;
  /** The state it had when evaluated (guards the UPDATE against concurrent changes). */
  from: TaskInstanceState | null;
}

export interface RunEvaluationInput {
  dag: SerializedDag;
  graph: DagGraph;
  tis: readonly TiView[];
  now: number;
  /** Choices of branch / short-circuit tasks that succeeded in this run. */
  skipChoices: ReadonlyMap<string, SkipChoice>;
  /** For dependsOnPast tasks: the state of the same task in the previous run ('absent' when none). */
  pastStates: ReadonlyMap<string, TaskInstanceState | null | 'absent'>;
}

export interface RunEvaluation {
  changes: TiChange[];
  /** running while work remains; success/failed once settled (deadlock → failed). */
  runState: Extract<DagRunState, 'running' | 'success' | 'failed'>;
  deadlocked: boolean;
  /** Earliest retry / reschedule time still in the future, so the scheduler can wake for it. */
  nextWakeAt: number | null;
}

export const FINISHED_STATES: ReadonlySet<TaskInstanceState | null> = new Set<TaskInstanceState | null>([
  'success',
  'failed',
  'skipped',
  'upstream_failed',
  'removed',
]);
const WAITING_FOR_TIME: ReadonlySet<TaskInstanceState | null> = new Set<TaskInstanceState | null>([
  'up_for_retry',
  'up_for_reschedule',
]);

/** Structure of a DAG computed once per DAG version: topological order and neighbour lists. */
export interface DagGraph {
  order: SerializedTask[];
  byId: Map<string, SerializedTask>;
  downstream: Map<string, string[]>;
  leaves: Set<string>;
  /** Transitive downstream of each task (computed lazily). */
  closure(taskId: string): Set<string>;
}

export function buildGraph(dag: SerializedDag): DagGraph {
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const downstream = new Map<string, string[]>(dag.tasks.map((t) => [t.taskId, []]));
  for (const t of dag.tasks) for (const u of t.upstream) downstream.get(u)?.push(t.taskId);
  const indegree = new Map(dag.tasks.map((t) => [t.taskId, t.upstream.filter((u) => byId.has(u)).length]));
  const queue = dag.tasks.filter((t) => indegree.get(t.taskId) === 0);
  const order: SerializedTask[] = [];
  while (queue.length) {
    const t = queue.shift()!;
    order.push(t);
    for (const d of downstream.get(t.taskId) ?? []) {
      const n = indegree.get(d)! - 1;
      indegree.set(d, n);
      if (n === 0) queue.push(byId.get(d)!);
    }
  }
  const closures = new Map<string, Set<string>>();
  const closure = (taskId: string): Set<string> => {
    let c = closures.get(taskId);
    if (c) return c;
    c = new Set();
    const stack = [...(downstream.get(taskId) ?? [])];
    while (stack.length) {
      const id = stack.pop()!;
      if (c.has(id)) continue;
      c.add(id);
      stack.push(...(downstream.get(id) ?? []));
    }
    closures.set(taskId, c);
    return c;
  };
  const leaves = new Set(
    dag.tasks.filter((t) => (downstream.get(t.taskId) ?? []).length === 0).map((t) => t.taskId),
  );
  return { order, byId, downstream, leaves, closure };
}

/** Tasks a branch or short-circuit choice skips (Airflow's SkipMixin.skip_all_except). */
function skippedByChoices(graph: DagGraph, choices: ReadonlyMap<string, SkipChoice>): Set<string> {
  const skipped = new Set<string>();
  for (const [taskId, choice] of choices) {
    if (choice.skipAllDownstream) {
      for (const id of graph.closure(taskId)) skipped.add(id);
      continue;
    }
    // A task downstream of a followed branch is kept even when it is also directly downstream of
    // the branch task (the "empty branch" join case).
    const keep = new Set(choice.followed);
    for (const f of choice.followed) for (const id of graph.closure(f)) keep.add(id);
    for (const d of graph.downstream.get(taskId) ?? []) if (!keep.has(d)) skipped.add(d);
  }
  return skipped;
}

/**
 * Decide, for one DAG run, which task instances change state. Pure: the caller reads the rows and
 * applies the changes. Decisions are applied to an in-memory copy as they are made (in
 * topological order), so a skip or upstream_failed cascades through the whole run in one pass.
 */
export function evaluateRun(input: RunEvaluationInput): RunEvaluation {
  const { graph, now } = input;
  // The caller's rows are never changed: a decision replaces the row in this map's lists with a
  // changed copy (most rows of a large run change nothing, so copying all of them would be waste).
  const byTask = new Map<string, TiView[]>();
  for (const ti of input.tis) {
    const list = byTask.get(ti.taskId);
    if (list) list.push(ti);
    else byTask.set(ti.taskId, [ti]);
  }
  const changes: TiChange[] = [];
  const change = (list: TiView[], index: number, kind: ChangeKind, newState: TaskInstanceState) => {
    const ti = list[index]!;
    changes.push({ kind, taskId: ti.taskId, mapIndex: ti.mapIndex, from: ti.state });
    list[index] = { ...ti, state: newState };
  };
  for (const [taskId, list] of byTask) {
    if (graph.byId.has(taskId)) continue;
    list.forEach((ti, i) => {
      if (!FINISHED_STATES.has(ti.state) && ti.state !== 'running' && ti.state !== 'queued')
        change(list, i, 'remove', 'removed');
    });
  }
  const skipped = skippedByChoices(graph, input.skipChoices);
  let nextWakeAt: number | null = null;
  let blockedByPast = false;

  for (const task of graph.order) {
    const tis = byTask.get(task.taskId);
    if (!tis) continue;
    for (let i = 0; i < tis.length; i++) {
      const ti = tis[i]!;
      if (WAITING_FOR_TIME.has(ti.state)) {
        if (ti.nextRetryAt === null || ti.nextRetryAt <= now) change(tis, i, 'schedule', 'scheduled');
        else nextWakeAt = Math.min(nextWakeAt ?? Infinity, ti.nextRetryAt);
        continue;
      }
      if (ti.state !== null) continue;
      if (skipped.has(task.taskId)) {
        change(tis, i, 'skip', 'skipped');
        continue;
      }
      const decision = evaluateTriggerRule(task.triggerRule, upstreamCounts(task.upstream, byTask));
      if (decision === 'wait') continue;
      if (decision === 'skip') {
        change(tis, i, 'skip', 'skipped');
        continue;
      }
      if (decision === 'upstream_failed') {
        change(tis, i, 'upstream_failed', 'upstream_failed');
        continue;
      }
      if (task.dependsOnPast) {
        // Not `?? 'absent'`: a previous instance that has not run yet (state null) must block too.
        const past = input.pastStates.has(task.taskId) ? input.pastStates.get(task.taskId) : 'absent';
        if (past !== 'absent' && past !== 'success' && past !== 'skipped') {
          blockedByPast = true;
          continue;
        }
      }
      if (task.mapped && ti.mapIndex === -1) change(tis, i, 'expand', 'scheduled');
      else if (task.isEmpty && !task.hasCallbacks.onExecute && !task.hasCallbacks.onSuccess)
        change(tis, i, 'empty_success', 'success');
      else change(tis, i, 'schedule', 'scheduled');
    }
  }

  let unfinished = 0;
  let inProgress = 0;
  let leafFailed = false;
  for (const [taskId, tis] of byTask) {
    for (const ti of tis) {
      if (!FINISHED_STATES.has(ti.state)) {
        unfinished++;
        if (ti.state !== null) inProgress++;
      } else if (graph.leaves.has(taskId) && (ti.state === 'failed' || ti.state === 'upstream_failed')) {
        leafFailed = true;
      }
    }
  }
  if (unfinished === 0)
    return { changes, runState: leafFailed ? 'failed' : 'success', deadlocked: false, nextWakeAt };
  const deadlocked = inProgress === 0 && !blockedByPast;
  return { changes, runState: deadlocked ? 'failed' : 'running', deadlocked, nextWakeAt };
}

/** The states of a task's upstream instances, counted without building a list (a fan-in has 1,000). */
function upstreamCounts(upstream: readonly string[], byTask: ReadonlyMap<string, TiView[]>): UpstreamCounts {
  const counts = emptyCounts();
  for (const u of upstream) for (const x of byTask.get(u) ?? []) countUpstreamInto(counts, x.state);
  return counts;
}
