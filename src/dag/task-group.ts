import { DagImportError } from '../errors.js';
import { currentFrame, withFrame } from './build-context.js';
import {
  guardThenable,
  linkTasks,
  rootsOf,
  leavesOf,
  validateId,
  type BaseOperator,
  type DependencyNode,
  type DependencyTarget,
} from './base-operator.js';
import type { DAG } from './dag.js';

export interface TaskGroupArgs {
  groupId: string;
  tooltip?: string;
  /** Prefix child task ids with the group id (default true), as Airflow does. */
  prefixGroupId?: boolean;
  dag?: DAG;
  parentGroup?: TaskGroup | null;
}

/**
 * A named group of tasks: ids are prefixed (`section_1.task_1`), the UI folds them, and the group
 * can be a dependency endpoint (edges attach to its first / last tasks).
 */
export class TaskGroup implements DependencyNode {
  readonly groupId: string;
  readonly tooltip: string | null;
  readonly dag: DAG;
  readonly parent: TaskGroup | null;
  private readonly prefix: boolean;
  readonly children: (BaseOperator | TaskGroup)[] = [];

  constructor(args: TaskGroupArgs | string, build?: (group: TaskGroup) => void) {
    const a: TaskGroupArgs = typeof args === 'string' ? { groupId: args } : args;
    const frame = currentFrame();
    this.parent = a.parentGroup !== undefined ? a.parentGroup : (frame?.group ?? null);
    const dag = a.dag ?? this.parent?.dag ?? frame?.dag;
    if (!dag)
      throw new DagImportError(
        `TaskGroup '${String(a.groupId)}' must be created inside a DAG (dag.build(...)) or be given { dag }`,
      );
    this.dag = dag;
    const local = validateId(a.groupId, 'groupId');
    this.groupId = this.parent ? this.parent.childId(local) : local;
    this.prefix = a.prefixGroupId ?? true;
    this.tooltip = a.tooltip ?? null;
    dag.addTaskGroup(this);
    this.parent?.children.push(this);
    if (build) withFrame({ dag, group: this }, () => build(this));
  }

  /** The id of a child created inside this group. */
  childId(localId: string): string {
    return this.prefix ? `${this.groupId}.${localId}` : localId;
  }

  addChild(task: BaseOperator): void {
    this.children.push(task);
  }

  /** Every task in this group and its subgroups. */
  allTasks(): BaseOperator[] {
    return this.children.flatMap((c) => (c instanceof TaskGroup ? c.allTasks() : [c]));
  }

  dependencyRoots(): BaseOperator[] {
    const members = new Set(this.allTasks());
    return [...members].filter((t) => ![...t.upstreamTasks].some((u) => members.has(u)));
  }
  dependencyLeaves(): BaseOperator[] {
    const members = new Set(this.allTasks());
    return [...members].filter((t) => ![...t.downstreamTasks].some((d) => members.has(d)));
  }

  setDownstream(targets: DependencyTarget): void {
    for (const from of this.dependencyLeaves()) for (const to of rootsOf(targets)) linkTasks(from, to);
  }
  setUpstream(targets: DependencyTarget): void {
    for (const from of leavesOf(targets)) for (const to of this.dependencyRoots()) linkTasks(from, to);
  }
  then<T extends DependencyTarget>(targets: T, ...promiseCallbacks: unknown[]): T {
    guardThenable(this.groupId, targets, promiseCallbacks[0]);
    this.setDownstream(targets);
    return targets;
  }
  after<T extends DependencyTarget>(targets: T): T {
    this.setUpstream(targets);
    return targets;
  }
}

/** `taskGroup('section', () => { ... })` — the functional spelling (Airflow's @task_group). */
export function taskGroup(args: TaskGroupArgs | string, build: (group: TaskGroup) => void): TaskGroup {
  return new TaskGroup(args, build);
}
