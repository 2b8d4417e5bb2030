/**
 * The execution contract between a task's operator and the task runner.
 *
 * The runner (a child process started by the executor) imports the DAG file with
 * `importDagFile`, finds the task with `dag.getTask(taskId)` (for a mapped task:
 * `mapped.expandInstances(context)` then runs the instance of its map index), builds a
 * TaskContext with `createTaskContext(...)`, renders templated fields with
 * `renderTemplates(operator, context)` and then calls `await operator.execute(context)`.
 *
 * How the runner interprets the outcome:
 *  - resolves with a value → success; a value other than `undefined` is pushed as XCom
 *    `return_value` (for TaskFlow with `multipleOutputs`, each key is pushed as well — the
 *    operator does that itself through `ti.xcomPush`);
 *  - throws `SkipTask` → skipped;  throws `FailTaskNow` → failed, no retries;
 *  - throws `RescheduleTask` (sensor in reschedule mode) → up_for_reschedule until `at`;
 *  - throws `SensorTimeout` → failed without retry;
 *  - any other error → failed / up_for_retry according to retries;
 *  - context.signal aborts on execution timeout or kill: operators stop their work (BashOperator
 *    kills its process tree) and reject.
 *  - serialized `isBranch`: the resolved value is a task id or list of ids to follow; every
 *    other direct downstream task is skipped.
 *  - serialized `isShortCircuit`: a falsy resolved value skips every downstream task.
 *
 * Services that need the database (XCom, variables, connections, triggering runs, looking at
 * other DAGs' task states) are injected through `TaskServices`; operators never open the DB.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { BashStarter } from './operators/bash-process.js';
import type { DagRunInfo } from '../core/run-context.js';
import type { DagRunState, TaskInstanceState } from '../core/states.js';
import { macros, type Macros } from './macros.js';

/** A special outcome of execute(). */
export class TaskSignal extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** Mark the task skipped (Airflow's AirflowSkipException). */
export class SkipTask extends TaskSignal {
  constructor(message = 'Task skipped') {
    super(message);
  }
}
/** Fail without using the remaining retries (Airflow's AirflowFailException). */
export class FailTaskNow extends TaskSignal {}
/** A sensor in reschedule mode is not done yet: free the slot and try again at `at`. */
export class RescheduleTask extends TaskSignal {
  constructor(readonly at: Date) {
    super(`Rescheduled to ${at.toISOString()}`);
  }
}
/** A sensor ran out of time: failed, never retried. */
export class SensorTimeout extends TaskSignal {}

export function isSkip(error: unknown): error is SkipTask {
  return error instanceof Error && error.name === 'SkipTask';
}
export function isFailNow(error: unknown): error is FailTaskNow {
  return error instanceof Error && (error.name === 'FailTaskNow' || error.name === 'SensorTimeout');
}
export function isReschedule(error: unknown): error is RescheduleTask {
  return error instanceof Error && error.name === 'RescheduleTask';
}

export interface XComPullQuery {
  /** One id (→ one value) or several (→ a list of values, in that order). Default: none given → this task. */
  taskIds?: string | string[];
  /** Default `return_value`. */
  key?: string;
  /** For mapped upstream tasks: which map indexes; default all of them (→ a list). */
  mapIndexes?: number | number[];
  /** Another DAG/run (rare); default the current run. */
  dagId?: string;
  runId?: string;
}

/** XCom storage for the current task instance, implemented by the runner over the metadata DB. */
export interface XComBackend {
  push(key: string, value: unknown): Promise<void>;
  /** Values are returned as pushed (JSON round trip); missing → undefined (or undefined items in a list). */
  pull(query: XComPullQuery): Promise<unknown>;
}

export interface ConnectionInfo {
  connId: string;
  connType: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  password: string | null;
  port: number | null;
  extra: Record<string, unknown>;
}

export interface TriggerDagRunRequest {
  dagId: string;
  runId?: string;
  conf?: Record<string, unknown>;
  logicalDate?: Date;
  resetDagRun?: boolean;
}

export interface TaskStateQuery {
  dagId: string;
  /** Null: look at the whole DAG run's state instead of tasks. */
  taskIds: string[] | null;
  logicalDate: Date;
}

/** What the runner injects. */
export interface TaskServices {
  xcom: XComBackend;
  getVariable(key: string): Promise<string | undefined>;
  getConnection(connId: string): Promise<ConnectionInfo | undefined>;
  /** TriggerDagRunOperator: create a run of another DAG; resolves with its run id. */
  triggerDagRun(request: TriggerDagRunRequest): Promise<{ runId: string }>;
  /** ExternalTaskSensor: states of tasks (or of the run when taskIds is null) of another DAG's run at that logical date. */
  getExternalStates(
    query: TaskStateQuery,
  ): Promise<{ runState: DagRunState | null; taskStates: (TaskInstanceState | null)[] }>;
  /** The state of a whole DAG run of another DAG (used by waitForCompletion). */
  getDagRunState(dagId: string, runId: string): Promise<DagRunState | null>;
  /** Starts BashOperator commands (the runtime's fast path); absent: a direct spawn from Node. */
  startBash?: BashStarter;
}

/** Text lines into the task's log file. */
export interface TaskLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** `{{ var.value.x }}` / `{{ conn.my_db.host }}`: property access that looks the name up. */
export class TemplateLookup {
  constructor(
    readonly describe: string,
    readonly lookup: (name: string) => Promise<unknown>,
  ) {}
}

export interface TaskInstanceHandle {
  dagId: string;
  taskId: string;
  runId: string;
  mapIndex: number;
  tryNumber: number;
  maxTries: number;
  /** When this try started. */
  startDate: Date;
  /** `xcomPush('k', v)`, or `xcomPush({ key, value })` (templates' `ti.xcomPush(key='k', value=v)`). */
  xcomPush(key: string | { key: string; value: unknown }, value?: unknown): Promise<void>;
  /** Airflow's ti.xcom_pull: `xcomPull({ taskIds: 'extract' })`, or `xcomPull('extract')` as a shortcut. */
  xcomPull(query?: XComPullQuery | string, key?: string): Promise<unknown>;
  // Airflow spellings, for templates copied from Airflow.
  xcom_push(key: string | { key: string; value: unknown }, value?: unknown): Promise<void>;
  xcom_pull(query?: XComPullQuery | string, key?: string): Promise<unknown>;
}

export type { DagRunInfo } from '../core/run-context.js';

/**
 * What an operator sees while it runs. Names follow Airflow's template context (snake_case) so
 * templates copied from Airflow keep working.
 */
export interface TaskContext {
  // Importing the DAG classes here would be circular; the runner passes the real objects.
  dag: { dagId: string };
  task: { taskId: string };
  ds: string;
  ds_nodash: string;
  ts: string;
  ts_nodash: string;
  /** `{dag_id}__{task_id}__{ds_nodash}`. */
  task_instance_key_str: string;
  logical_date: Date;
  /** Airflow 1.x name of logical_date, still common in templates. */
  execution_date: Date;
  data_interval_start: Date;
  data_interval_end: Date;
  prev_data_interval_start_success: Date | null;
  prev_data_interval_end_success: Date | null;
  run_id: string;
  dag_run: DagRunInfo;
  /** DAG params with the run's conf applied on top. */
  params: Record<string, unknown>;
  /** The run's conf as given at trigger time. */
  conf: Record<string, unknown>;
  ti: TaskInstanceHandle;
  var: {
    value: TemplateLookup;
    json: TemplateLookup;
    get(key: string, defaultValue?: string): Promise<string | undefined>;
  };
  conn: TemplateLookup;
  macros: Macros;
  log: TaskLogger;
  signal: AbortSignal;
  /** `tasks test` / `dags test`: nothing is recorded. */
  test_mode: boolean;
  /** For sensors in reschedule mode: when the first poke of this try sequence happened. */
  sensorFirstPokeAt: Date | null;
  services: TaskServices;
  /** FunctionOperator: its rendered opKwargs. */
  opKwargs?: Record<string, unknown>;
  /** Anything else a runner wants to expose to templates. */
  [extra: string]: unknown;
}

export interface CreateTaskContextInput {
  dag: { dagId: string };
  task: { taskId: string };
  dagRun: DagRunInfo;
  params: Record<string, unknown>;
  tryNumber: number;
  maxTries: number;
  mapIndex?: number;
  startDate?: Date;
  prevDataIntervalStartSuccess?: Date | null;
  prevDataIntervalEndSuccess?: Date | null;
  services: TaskServices;
  log: TaskLogger;
  signal: AbortSignal;
  testMode?: boolean;
  sensorFirstPokeAt?: Date | null;
}

/** Airflow's `ts`: ISO 8601 without milliseconds, `+00:00` for UTC. */
export function isoNoMs(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Build a TaskContext with every derived template variable filled in. */
export function createTaskContext(input: CreateTaskContextInput): TaskContext {
  const logical = input.dagRun.logicalDate;
  const ds = logical.toISOString().slice(0, 10);
  const ts = isoNoMs(logical);
  const { services } = input;
  const xcomPull = (query?: XComPullQuery | string, key?: string) => {
    const q: XComPullQuery = typeof query === 'string' ? { taskIds: query, key } : { ...(query ?? {}) };
    q.taskIds ??= input.task.taskId;
    return services.xcom.pull(q);
  };
  const xcomPush = (key: string | { key: string; value: unknown }, value?: unknown) =>
    typeof key === 'object' && key !== null
      ? services.xcom.push(String(key.key), key.value)
      : services.xcom.push(key, value);
  const ti: TaskInstanceHandle = {
    dagId: input.dag.dagId,
    taskId: input.task.taskId,
    runId: input.dagRun.runId,
    mapIndex: input.mapIndex ?? -1,
    tryNumber: input.tryNumber,
    maxTries: input.maxTries,
    startDate: input.startDate ?? new Date(),
    xcomPush,
    xcomPull,
    xcom_push: xcomPush,
    xcom_pull: xcomPull,
  };
  const getVar = async (key: string, defaultValue?: string) =>
    (await services.getVariable(key)) ?? defaultValue;
  return {
    dag: input.dag,
    task: input.task,
    ds,
    ds_nodash: ds.replaceAll('-', ''),
    ts,
    ts_nodash: ts.slice(0, 19).replaceAll('-', '').replaceAll(':', ''),
    task_instance_key_str: `${input.dag.dagId}__${input.task.taskId}__${ds.replaceAll('-', '')}`,
    logical_date: logical,
    execution_date: logical,
    data_interval_start: input.dagRun.dataIntervalStart,
    data_interval_end: input.dagRun.dataIntervalEnd,
    prev_data_interval_start_success: input.prevDataIntervalStartSuccess ?? null,
    prev_data_interval_end_success: input.prevDataIntervalEndSuccess ?? null,
    run_id: input.dagRun.runId,
    dag_run: input.dagRun,
    params: input.params,
    conf: input.dagRun.conf,
    ti,
    var: {
      value: new TemplateLookup('var.value', async (name) => {
        const v = await services.getVariable(name);
        if (v === undefined) throw new Error(`Variable ${name} does not exist`);
        return v;
      }),
      json: new TemplateLookup('var.json', async (name) => {
        const v = await services.getVariable(name);
        if (v === undefined) throw new Error(`Variable ${name} does not exist`);
        return JSON.parse(v) as unknown;
      }),
      get: getVar,
    },
    conn: new TemplateLookup('conn', async (name) => {
      const c = await services.getConnection(name);
      if (!c) throw new Error(`The conn_id \`${name}\` isn't defined`);
      return c;
    }),
    macros,
    log: input.log,
    signal: input.signal,
    test_mode: input.testMode ?? false,
    sensorFirstPokeAt: input.sensorFirstPokeAt ?? null,
    services,
  };
}

// The context of the task running in this process, for TaskFlow functions (Airflow's
// get_current_context()). AsyncLocalStorage keeps it right even if a process ran two tasks.
const CURRENT_KEY = Symbol.for('updraft.currentTaskContext');
type StorageHolder = { [CURRENT_KEY]?: AsyncLocalStorage<TaskContext> };
function storage(): AsyncLocalStorage<TaskContext> {
  const holder = globalThis as StorageHolder;
  return (holder[CURRENT_KEY] ??= new AsyncLocalStorage<TaskContext>());
}

export function runWithContext<T>(context: TaskContext, fn: () => Promise<T>): Promise<T> {
  return storage().run(context, fn);
}

/** The TaskContext of the task being executed (inside execute / a TaskFlow function). */
export function getCurrentContext(): TaskContext {
  const ctx = storage().getStore();
  if (!ctx) throw new Error('getCurrentContext() called outside of a running task');
  return ctx;
}

/** Sleep that rejects when the signal aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
