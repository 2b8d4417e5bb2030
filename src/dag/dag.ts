import { DagImportError, NotFoundError, ValidationError } from '../errors.js';
import { withFrame } from './build-context.js';
import { validateId, type BaseOperator, type DefaultArgs } from './base-operator.js';
import { getAuthoringDefaults } from './defaults.js';
import { optionalDurationToMs, type Duration } from './duration.js';
import { checkParamSchemas, serializeParams, type ParamsInput } from './params.js';
import { parseSchedule, type ScheduleInput } from './schedule.js';
import { checkTimeZone, parseDateInZone } from './timezone.js';
import { SERIALIZATION_VERSION, type ScheduleSpec, type SerializedDag } from './serialized.js';
import type { TaskContext } from './execution.js';
import type { TaskGroup } from './task-group.js';

export type DagCallback = (
  context: Partial<TaskContext> & { dagId: string; runId: string; reason?: string },
) => unknown;

export interface DagArgs {
  dagId: string;
  /** Cron text, a preset (`@daily`), a duration (`{ hours: 1 }`), or null for manual runs only. */
  schedule?: ScheduleInput;
  /** Airflow 1.x/2.0 name of `schedule`. */
  scheduleInterval?: ScheduleInput;
  startDate?: Date | string | null;
  endDate?: Date | string | null;
  /**
   * IANA zone the schedule runs in, and in which `startDate`/`endDate` text without an offset is
   * read; default core.default_timezone.
   */
  timezone?: string;
  catchup?: boolean;
  defaultArgs?: DefaultArgs;
  tags?: string[];
  description?: string;
  docMd?: string;
  params?: ParamsInput;
  maxActiveRuns?: number;
  maxActiveTasks?: number;
  dagrunTimeout?: Duration | null;
  isPausedUponCreation?: boolean;
  /** Owner shown for the DAG; default: the owners of its tasks. */
  owner?: string;
  onSuccessCallback?: DagCallback;
  onFailureCallback?: DagCallback;
}

// DAGs created while a file is being imported are collected here (see importDagFile). Kept on
// globalThis so copies of this module loaded from different paths still share it.
const REGISTRY = Symbol.for('updraft.dagRegistry');
type RegistryHolder = { [REGISTRY]?: DAG[][] };

/** Collect every DAG constructed while `fn` runs (nested calls each get their own list). */
export async function collectDags(fn: () => Promise<unknown>): Promise<DAG[]> {
  const holder = globalThis as RegistryHolder;
  const stack = (holder[REGISTRY] ??= []);
  const bucket: DAG[] = [];
  stack.push(bucket);
  try {
    await fn();
  } finally {
    stack.splice(stack.indexOf(bucket), 1);
  }
  return bucket;
}

const DAG_BRAND = Symbol.for('updraft.DAG');

/** True for DAG objects, also ones made by another copy of this module. */
export function isDag(value: unknown): value is DAG {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DAG_BRAND] === true
  );
}

function toDate(
  value: Date | string | null | undefined,
  what: string,
  dagId: string,
  zone: string,
): Date | null {
  if (value === null || value === undefined) return null;
  const d = value instanceof Date ? value : parseDateInZone(String(value), zone);
  if (Number.isNaN(d.getTime()))
    throw new ValidationError(`DAG '${dagId}': ${what} '${String(value)}' is not a valid date`);
  return d;
}

/** A workflow: tasks and the dependencies between them, plus when to run it. */
export class DAG {
  readonly [DAG_BRAND] = true;
  readonly dagId: string;
  readonly schedule: ScheduleSpec | null;
  readonly startDate: Date | null;
  readonly endDate: Date | null;
  readonly defaultArgs: DefaultArgs;
  readonly tags: string[];
  readonly description: string | null;
  readonly docMd: string | null;
  readonly params: ParamsInput;
  /** Absolute path of the file that defined it (set by the loader). */
  fileloc = '';
  private readonly args: DagArgs;
  private readonly taskMap = new Map<string, BaseOperator>();
  readonly taskGroups = new Map<string, TaskGroup>();

  constructor(args: DagArgs) {
    if (!args || typeof args !== 'object')
      throw new ValidationError('new DAG() needs an arguments object with a dagId');
    this.dagId = validateId(args.dagId, 'dagId');
    this.args = args;
    if (args.schedule !== undefined && args.scheduleInterval !== undefined) {
      throw new ValidationError(`DAG '${this.dagId}': give schedule or scheduleInterval, not both`);
    }
    this.schedule = parseSchedule(
      args.schedule !== undefined ? args.schedule : (args.scheduleInterval ?? null),
      this.dagId,
    );
    if (args.timezone !== undefined) checkTimeZone(String(args.timezone), `DAG '${this.dagId}'`);
    // Dates written without an offset are wall time in the DAG's zone, as Airflow's naive datetimes.
    const zone = this.timezone;
    this.startDate = toDate(
      args.startDate ?? (args.defaultArgs?.startDate as Date | string | undefined),
      'startDate',
      this.dagId,
      zone,
    );
    this.endDate = toDate(
      args.endDate ?? (args.defaultArgs?.endDate as Date | string | undefined),
      'endDate',
      this.dagId,
      zone,
    );
    if (this.startDate && this.endDate && this.endDate < this.startDate) {
      throw new ValidationError(`DAG '${this.dagId}': endDate is before startDate`);
    }
    // startDate/endDate in defaultArgs belong to the DAG, not to tasks.
    const { startDate: _s, endDate: _e, ...taskDefaults } = args.defaultArgs ?? {};
    this.defaultArgs = taskDefaults;
    if (
      args.tags !== undefined &&
      (!Array.isArray(args.tags) || args.tags.some((t) => typeof t !== 'string'))
    ) {
      throw new ValidationError(`DAG '${this.dagId}': tags must be a list of strings`);
    }
    this.tags = [...(args.tags ?? [])];
    this.description = args.description ?? null;
    this.docMd = args.docMd ?? null;
    this.params = args.params ?? {};
    for (const [name, v] of [
      ['maxActiveRuns', args.maxActiveRuns],
      ['maxActiveTasks', args.maxActiveTasks],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1))
        throw new ValidationError(`DAG '${this.dagId}': ${name} must be a positive integer`);
    }
    optionalDurationToMs(args.dagrunTimeout, 'dagrunTimeout');
    checkParamSchemas(serializeParams(this.params));
    const stack = (globalThis as RegistryHolder)[REGISTRY];
    stack?.[stack.length - 1]?.push(this);
  }

  get catchup(): boolean {
    return this.args.catchup ?? getAuthoringDefaults().catchup;
  }
  get timezone(): string {
    const zone = this.args?.timezone ?? getAuthoringDefaults().timezone;
    return zone.toUpperCase() === 'UTC' ? 'UTC' : zone;
  }
  get maxActiveRuns(): number {
    return this.args.maxActiveRuns ?? getAuthoringDefaults().maxActiveRuns;
  }
  get maxActiveTasks(): number {
    return this.args.maxActiveTasks ?? getAuthoringDefaults().maxActiveTasks;
  }
  get callbacks(): Pick<DagArgs, 'onSuccessCallback' | 'onFailureCallback'> {
    return { onSuccessCallback: this.args.onSuccessCallback, onFailureCallback: this.args.onFailureCallback };
  }
  /** The DAG's owner text: explicit, or the distinct owners of its tasks (Airflow's `owner` column). */
  get owner(): string {
    if (this.args.owner) return this.args.owner;
    const owners = [...new Set(this.tasks.map((t) => t.owner))].sort();
    return owners.length > 0 ? owners.join(', ') : getAuthoringDefaults().owner;
  }

  /** Define tasks inside `fn`: operators created there join this DAG (Python's `with DAG(...)`). */
  build(fn: (dag: this) => void): this {
    withFrame({ dag: this, group: null }, () => fn(this));
    return this;
  }

  /** Attach a task (operators created inside build() or with `{ dag }` do this themselves). */
  addTask(task: BaseOperator): void {
    const existing = this.taskMap.get(task.taskId);
    if (existing === task) return;
    if (existing)
      throw new DagImportError(`Task id '${task.taskId}' has already been added to the DAG '${this.dagId}'`);
    if (task.dag && task.dag !== this) {
      throw new DagImportError(
        `Task '${task.taskId}' already belongs to DAG '${task.dag.dagId}', cannot add it to '${this.dagId}'`,
      );
    }
    task.dag = this;
    this.taskMap.set(task.taskId, task);
  }

  addTaskGroup(group: TaskGroup): void {
    if (this.taskGroups.has(group.groupId) || this.taskMap.has(group.groupId)) {
      throw new DagImportError(`Group id '${group.groupId}' is already used in DAG '${this.dagId}'`);
    }
    this.taskGroups.set(group.groupId, group);
  }

  get tasks(): BaseOperator[] {
    return [...this.taskMap.values()];
  }
  get taskIds(): string[] {
    return [...this.taskMap.keys()];
  }
  hasTask(taskId: string): boolean {
    return this.taskMap.has(taskId);
  }
  getTask(taskId: string): BaseOperator {
    const t = this.taskMap.get(taskId);
    if (!t) throw new NotFoundError(`Task '${taskId}' not found in DAG '${this.dagId}'`);
    return t;
  }
  /** Tasks with no upstream. */
  get roots(): BaseOperator[] {
    return this.tasks.filter((t) => t.upstreamTasks.size === 0);
  }
  get leaves(): BaseOperator[] {
    return this.tasks.filter((t) => t.downstreamTasks.size === 0);
  }

  /**
   * Check the graph: every referenced task belongs to this DAG (no dangling references), and
   * there is no cycle. Errors name the tasks involved.
   */
  validate(): void {
    for (const task of this.tasks) task.linkTemplatedXComArgs();
    for (const task of this.tasks) {
      for (const rel of [...task.upstreamTasks, ...task.downstreamTasks]) {
        if (this.taskMap.get(rel.taskId) !== rel) {
          throw new DagImportError(
            `DAG '${this.dagId}': task '${task.taskId}' is linked to '${rel.taskId}', which is not part of this DAG` +
              (rel.dag ? ` (it belongs to '${rel.dag.dagId}')` : ''),
          );
        }
      }
    }
    const cycle = findCycle(this.tasks);
    if (cycle) throw new DagImportError(`Cycle detected in DAG '${this.dagId}': ${cycle.join(' >> ')}`);
  }

  /** Tasks in an order where every task comes after its upstream tasks. */
  topologicalOrder(): BaseOperator[] {
    this.validate();
    const order: BaseOperator[] = [];
    const seen = new Set<BaseOperator>();
    const visit = (t: BaseOperator) => {
      if (seen.has(t)) return;
      seen.add(t);
      for (const u of t.upstreamTasks) visit(u);
      order.push(t);
    };
    for (const t of this.tasks) visit(t);
    return order;
  }

  serialize(): SerializedDag {
    this.validate();
    const params = serializeParams(this.params);
    return {
      version: SERIALIZATION_VERSION,
      dagId: this.dagId,
      fileloc: this.fileloc,
      description: this.description,
      docMd: this.docMd,
      owner: this.owner,
      tags: [...this.tags],
      schedule: this.schedule,
      timezone: this.timezone,
      startDate: this.startDate?.toISOString() ?? null,
      endDate: this.endDate?.toISOString() ?? null,
      catchup: this.catchup,
      maxActiveRuns: this.maxActiveRuns,
      maxActiveTasks: this.maxActiveTasks,
      dagrunTimeoutMs: optionalDurationToMs(this.args.dagrunTimeout, 'dagrunTimeout'),
      isPausedUponCreation: this.args.isPausedUponCreation ?? null,
      params,
      tasks: this.topologicalOrder().map((t) => t.serialize()),
      taskGroups: [...this.taskGroups.values()].map((g) => ({
        groupId: g.groupId,
        tooltip: g.tooltip,
        children: g.children.map((c) =>
          'groupId' in c && !('taskId' in c) ? (c as TaskGroup).groupId : (c as BaseOperator).taskId,
        ),
      })),
      hasCallbacks: {
        onSuccess: typeof this.args.onSuccessCallback === 'function',
        onFailure: typeof this.args.onFailureCallback === 'function',
      },
    };
  }
}

/** A cycle as a list of task ids (first repeated at the end), or null. Iterative DFS. */
export function findCycle(tasks: BaseOperator[]): string[] | null {
  const WHITE = 0,
    GREY = 1,
    BLACK = 2;
  const colour = new Map<BaseOperator, number>();
  for (const start of tasks) {
    if ((colour.get(start) ?? WHITE) !== WHITE) continue;
    const path: BaseOperator[] = [];
    const iters: Iterator<BaseOperator>[] = [];
    colour.set(start, GREY);
    path.push(start);
    iters.push(start.downstreamTasks.values());
    while (path.length > 0) {
      const next = iters[iters.length - 1]!.next();
      if (next.done) {
        colour.set(path.pop()!, BLACK);
        iters.pop();
        continue;
      }
      const t = next.value;
      const c = colour.get(t) ?? WHITE;
      if (c === GREY) {
        const from = path.indexOf(t);
        return [...path.slice(from), t].map((x) => x.taskId);
      }
      if (c === WHITE) {
        colour.set(t, GREY);
        path.push(t);
        iters.push(t.downstreamTasks.values());
      }
    }
  }
  return null;
}

/** `dag({ dagId, ... }, () => { ...tasks... })`: create a DAG and define its tasks (Airflow's @dag). */
export function dag(args: DagArgs, build: (dag: DAG) => void): DAG {
  return new DAG(args).build(build);
}
