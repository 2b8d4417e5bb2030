import { hostname as osHostname, userInfo } from 'node:os';
import { sql, type Kysely } from 'kysely';
import type { Database, DagRunRow, TaskInstanceState, TaskInstanceUpdate } from '../db/tables.js';
import type { MetadataDb } from '../db/index.js';
import type { UpdraftConfig } from '../config/schema.js';
import type { Fernet } from '../security/fernet.js';
import { errorMessage } from '../errors.js';
import { createTaskContext, type DagRunInfo, type TaskContext, type TaskServices } from '../dag/execution.js';
import { dagRunInfo, type RunContextColumns } from '../core/run-context.js';
import type { BaseOperator, TaskCallback } from '../dag/base-operator.js';
import { serializeParams, validateParams } from '../dag/params.js';
import { executeOperator, type ExecutionOutcome } from './execute-task.js';
import { loadTask, type LoadedTask } from './load-task.js';
import { renderTaskFields } from './render.js';
import { processSecrets } from '../security/secrets-masker.js';
import { isConnectionLost, retryThroughOutage } from '../db/outage-retry.js';
import { canRetry, nextRetryAt, type RetrySettings } from '../core/retry-policy.js';
import { openTaskLogger, taskLogPath, type TaskLogger } from './task-log.js';
import { firstRescheduleStart, readTaskInstance, recordReschedule } from '../db/task-store/ti-queries.js';
import { startHeartbeat } from './job-heartbeat.js';
import { taskInstanceStore, type TaskInstanceStore, type XComWrite } from '../db/index.js';
import { queryTemplate } from '../db/query-template.js';
import { createXComBackend } from '../db/task-store/xcom-store.js';
import { operatorHints } from '../dag/operator-hints.js';
import { RETURN_VALUE_KEY, SKIPMIXIN_KEY, type SkipMixinValue } from '../core/xcom-keys.js';
import { createTaskServices } from './task-services.js';

/**
 * Run one try of one task instance, the way the scheduler intends it (see README.md in this
 * folder for the contract with the scheduler):
 *   claim (guarded) → job row + heartbeat → import the DAG file → context → render → execute
 *   → XCom / branch record → final state (written here, by the runner) → callbacks.
 */
export interface TaskRunRequest {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  fileloc: string;
  /**
   * What the scheduler read from the TI when it queued this try. Given, the runner does not read
   * the TI before it starts (the claim's guard on state and try number still decides whether the
   * try is ours); `tasks run` leaves it out and the TI is read.
   */
  queued?: QueuedTiInfo;
}

export interface QueuedTiInfo {
  maxTries: number;
  operator: string | null;
  /** The run's context columns as the scheduler read them (then the run is not read here). */
  dagRun?: RunContextColumns;
}

export interface RunnerDeps {
  db: MetadataDb;
  fernet: Fernet;
  config: UpdraftConfig;
  env?: NodeJS.ProcessEnv;
  executorClass?: string | null;
  /** See ExecuteOptions.ownsProcess. */
  ownsProcess: boolean;
  /** Aborts the task from outside (executor terminate, SIGTERM). */
  signal?: AbortSignal;
  /** Lines of the task log also go here (`tasks run` prints them). */
  echo?: (line: string) => void;
  services?: Partial<Pick<TaskServices, 'triggerDagRun'>>;
  /** Keep the DAG file's evaluation between tries in this process (see load-task.ts). */
  reuseDagModule?: boolean;
  /**
   * Called as the operator's execute starts, with its executionTimeout: a task process tells its
   * parent, which enforces the timeout from outside (code that blocks the event loop stops no timer
   * inside the process).
   */
  onExecuteStart?: (executionTimeoutMs: number | null) => void;
}

export type RunResult =
  | { ran: false; reason: string }
  | {
      ran: true;
      state: TaskInstanceState;
      tainted: boolean;
      /**
       * No user code ran since the runner last found none of the task's processes left (then a
       * task process need not walk its process tree again before taking the next task).
       */
      leftNoProcesses: boolean;
      logPath: string;
      error: string | null;
    };

export function runnerHostname(config: UpdraftConfig): string {
  return config.core.hostname || osHostname();
}

let cachedUnixName: string | undefined;
/** The user the runner runs as (read once: userInfo() reads /etc/passwd on every call). */
function unixName(): string {
  if (cachedUnixName !== undefined) return cachedUnixName;
  try {
    cachedUnixName = userInfo().username;
  } catch {
    cachedUnixName = String(process.getuid?.() ?? 'unknown');
  }
  return cachedUnixName;
}

export async function runTaskInstance(request: TaskRunRequest, deps: RunnerDeps): Promise<RunResult> {
  const db = deps.db.kysely;
  const key = request;
  // Start-up reads, like the claim and the outcome writes, ride out a database outage.
  const outageRetryMs = deps.config.database.outage_retry_seconds * 1000;
  let ti: QueuedTiInfo;
  if (request.queued) {
    ti = request.queued;
  } else {
    const row = await retryThroughOutage(() => readTaskInstance(db, key), { budgetMs: outageRetryMs });
    if (!row) return { ran: false, reason: `Task instance ${describe(request)} does not exist` };
    if (row.try_number !== request.tryNumber || !(row.state === 'queued' || row.state === 'scheduled')) {
      return {
        ran: false,
        reason: `Task instance ${describe(request)} is in state ${row.state ?? 'none'} (try ${row.try_number}), not queued for try ${request.tryNumber}`,
      };
    }
    ti = { maxTries: row.max_tries, operator: row.operator };
  }
  const host = runnerHostname(deps.config);
  const who = {
    dagId: request.dagId,
    hostname: host,
    unixname: unixName(),
    pid: process.pid,
    executorClass: deps.executorClass ?? null,
  };
  const startDate = Date.now();
  const logPath = taskLogPath(deps.config.logging.base_log_folder, key);
  // Lines written before the claim are held: a try this runner does not get leaves no log file.
  const log = openTaskLogger({ path: logPath, echo: deps.echo, deferFile: true });
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(deps.signal?.reason ?? new Error('The task was terminated'));
  deps.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (deps.signal?.aborted) onOuterAbort();

  log.info(`Starting attempt ${request.tryNumber} of ${ti.maxTries + 1}`);
  log.info(
    `Executing <Task(${ti.operator ?? 'Operator'}): ${request.taskId}> on ${request.runId} (pid ${process.pid}, host ${host})`,
  );
  // Import, context and templates come before the claim, so that the claim, the job row, the
  // rendered fields and the XCom reset are one short write transaction.
  const prepare = async () => {
    const attempt = await prepareTry(request, deps, {
      log,
      signal: controller.signal,
      startDate,
      maxTries: ti.maxTries,
    });
    // A database outage while preparing is not the task's failure: try again once it is back.
    if (!attempt.ok && isConnectionLost(attempt.error)) throw attempt.error;
    return attempt;
  };
  const prepared = await retryThroughOutage(prepare, { budgetMs: outageRetryMs }).catch(
    (error: unknown): PreparedTry => ({ ok: false, error, retry: null }),
  );
  const store = taskInstanceStore(deps.db, {
    outageRetryMs,
    onOutageRetry: (operation, error) =>
      log.warn(`The metadata database is unreachable (${operation}: ${errorMessage(error)}); retrying.`),
  });
  const jobId = await store.claimTry(key, {
    ...who,
    startDate,
    renderedFields: prepared.ok ? prepared.rendered : null,
  });
  if (jobId === null) {
    deps.signal?.removeEventListener('abort', onOuterAbort);
    log.discard();
    return {
      ran: false,
      reason: `Task instance ${describe(request)} was claimed by another runner or changed state`,
    };
  }
  log.openFile();
  const heartbeat = startHeartbeat({
    beat: () => store.heartbeat(jobId),
    intervalMs: deps.config.scheduler.job_heartbeat_sec * 1000,
    stillOurs: async () => {
      const now = await readTaskInstance(db, key);
      return now?.state === 'running' && now.try_number === request.tryNumber && now.job_id === jobId;
    },
    onLostOwnership: () => {
      log.warn('State of this instance has been externally set to something else. Terminating instance.');
      controller.abort(
        new Error('The task instance was changed from outside (cleared or marked) while it ran'),
      );
    },
    onError: (error) => log.warn(`Heartbeat failed: ${errorMessage(error)}`),
  });

  const rs: RunState = {
    log,
    controller,
    startDate,
    maxTries: ti.maxTries,
    jobId,
    store,
    jobEnded: false,
    callbackRan: false,
    stopWatching: () => heartbeat.stop(),
  };
  let state: TaskInstanceState = 'failed';
  let tainted = false;
  let leftNoProcesses = false;
  let errorText: string | null = null;
  try {
    if (!prepared.ok) {
      errorText = errorMessage(prepared.error);
      log.error(`Task failed before execute: ${errorText}`);
      heartbeat.stop();
      state =
        (await recordFailure(
          db,
          request,
          rs,
          prepared.retry ?? (await retrySettingsFromSerialized(db, request)),
          true,
        )) ?? (await externalState(db, request, log));
    } else {
      const done = await executeAndRecord(request, deps, rs, prepared);
      state = done.state;
      tainted = done.tainted;
      leftNoProcesses = done.leftNoProcesses;
      errorText = done.error;
    }
  } catch (error) {
    // Something in the runner itself failed (DB down mid-run …): record the failure if we still can.
    errorText = errorMessage(error);
    log.error(`Task runner error: ${errorText}`);
    state = (await recordFailureSafely(db, request, rs, null)) ?? 'failed';
  } finally {
    heartbeat.stop();
    deps.signal?.removeEventListener('abort', onOuterAbort);
    if (!rs.jobEnded)
      await store.endJob(jobId, state === 'failed' ? 'failed' : 'success').catch(() => undefined);
    log.close();
  }
  return { ran: true, state, tainted, leftNoProcesses, logPath, error: errorText };
}

interface RunState {
  log: TaskLogger;
  controller: AbortController;
  startDate: number;
  maxTries: number;
  jobId: number;
  store: TaskInstanceStore;
  /** The job row was closed together with the final state. */
  jobEnded: boolean;
  /** A success/retry/failure callback ran: user code that may have started processes. */
  callbackRan: boolean;
  /** Called once the task's code is done: from here on we write the final state ourselves. */
  stopWatching: () => void;
}

type PreparedTry =
  | {
      ok: true;
      loaded: LoadedTask;
      context: TaskContext;
      operator: BaseOperator;
      rendered: Record<string, unknown>;
      retry: RetrySettings;
      /** Keys the try pushed itself while it ran (its return value then replaces one). */
      pushedXComs: ReadonlyMap<string, unknown>;
    }
  | { ok: false; error: unknown; retry: RetrySettings | null };

/** Import the task, build its context and render its templated fields (no writes). */
async function prepareTry(
  request: TaskRunRequest,
  deps: RunnerDeps,
  options: { log: TaskLogger; signal: AbortSignal; startDate: number; maxTries: number },
): Promise<PreparedTry> {
  const db = deps.db.kysely;
  let retry: RetrySettings | null = null;
  try {
    const loaded = await loadTask(request.fileloc, request.dagId, request.taskId, {
      reuseModule: deps.reuseDagModule === true,
    });
    retry = retrySettingsOf(loaded.operator);
    const dagRun = request.queued?.dagRun ?? (await readDagRun(db, request.dagId, request.runId));
    const previousSuccess = mayReadPreviousSuccess(loaded.operator)
      ? await readPreviousSuccess(db, dagRun.dag_id, dagRun.logical_date)
      : null;
    const { context, operator, pushedXComs } = await buildContext({
      request,
      deps,
      loaded,
      dagRun,
      previousSuccess,
      log: options.log,
      signal: options.signal,
      startDate: options.startDate,
      maxTries: options.maxTries,
      testMode: false,
    });
    const rendered = await renderTaskFields(operator, context);
    return { ok: true, loaded, context, operator, rendered, retry, pushedXComs };
  } catch (error) {
    return { ok: false, error, retry };
  }
}

async function executeAndRecord(
  request: TaskRunRequest,
  deps: RunnerDeps,
  rs: RunState,
  prepared: Extract<PreparedTry, { ok: true }>,
): Promise<{ state: TaskInstanceState; tainted: boolean; leftNoProcesses: boolean; error: string | null }> {
  const db = deps.db.kysely;
  const { operator, context, loaded, retry } = prepared;
  const userCodeRan = await runCallback(
    operator.callbacks.onExecuteCallback,
    context,
    undefined,
    'onExecuteCallback',
    rs.log,
  );
  deps.onExecuteStart?.(operator.executionTimeoutMs);
  const { outcome, tainted, leftNoProcesses } = await executeOperator({
    operator,
    context,
    controller: rs.controller,
    executionTimeoutMs: operator.executionTimeoutMs,
    settleGraceMs: Math.min(deps.config.core.killed_task_cleanup_time * 1000, 5000),
    log: rs.log,
    ownsProcess: deps.ownsProcess,
    leavesNoProcesses: !userCodeRan && operatorHints(operator).leavesNoProcesses,
  });
  // Our own final write would look like a change from outside to the next beat.
  rs.stopWatching();
  const state = await recordOutcome(
    db,
    request,
    loaded.operator,
    operator,
    outcome,
    rs,
    retry,
    context,
    prepared.pushedXComs,
  );
  return {
    state,
    tainted,
    leftNoProcesses: leftNoProcesses && !rs.callbackRan,
    error: outcome.kind === 'failed' ? errorMessage(outcome.error) : null,
  };
}

async function recordOutcome(
  db: Kysely<Database>,
  request: TaskRunRequest,
  declared: BaseOperator,
  operator: BaseOperator,
  outcome: ExecutionOutcome,
  rs: RunState,
  retry: RetrySettings | null,
  context: TaskContext,
  pushedXComs: ReadonlyMap<string, unknown>,
): Promise<TaskInstanceState> {
  const { log } = rs;
  let finalOutcome = outcome;
  let xcoms: XComWrite[] = [];
  if (outcome.kind === 'success') {
    try {
      xcoms = resultXComs(declared, outcome.value, log).map((x) => ({
        ...x,
        replaces: pushedXComs.has(x.key),
      }));
    } catch (error) {
      finalOutcome = { kind: 'failed', error, retryable: true };
    }
  }
  const end = Date.now();
  const duration = (end - rs.startDate) / 1000;
  const finish = (update: TaskInstanceUpdate & { state: TaskInstanceState }, writes: XComWrite[] = []) =>
    rs.store.finishTry(request, update, { jobId: rs.jobId, xcoms: writes }).then((ok) => {
      if (ok) rs.jobEnded = true;
      return ok;
    });
  switch (finalOutcome.kind) {
    case 'success': {
      const state = (await finish({ state: 'success', end_date: end, duration }, xcoms))
        ? 'success'
        : await externalState(db, request, log);
      if (state === 'success') {
        log.info(
          `Marking task as SUCCESS. dag_id=${request.dagId}, task_id=${request.taskId}, run_id=${request.runId}`,
        );
        rs.callbackRan = await runCallback(
          operator.callbacks.onSuccessCallback,
          context,
          undefined,
          'onSuccessCallback',
          log,
        );
      }
      return state;
    }
    case 'skipped':
      log.info(`${finalOutcome.message}. Marking task as SKIPPED.`);
      return (await finish({ state: 'skipped', end_date: end, duration }))
        ? 'skipped'
        : await externalState(db, request, log);
    case 'reschedule': {
      const at = finalOutcome.at.getTime();
      log.info(`Rescheduling task, marking task as UP_FOR_RESCHEDULE until ${finalOutcome.at.toISOString()}`);
      await recordReschedule(db, request, rs.startDate, end, at);
      return (await finish({ state: 'up_for_reschedule', end_date: end, duration, next_retry_at: at }))
        ? 'up_for_reschedule'
        : await externalState(db, request, log);
    }
    case 'failed': {
      log.error(`Task failed with exception: ${describeError(finalOutcome.error)}`);
      const state =
        (await recordFailure(db, request, rs, retry, finalOutcome.retryable)) ??
        (await externalState(db, request, log));
      if (state === 'up_for_retry')
        rs.callbackRan = await runCallback(
          operator.callbacks.onRetryCallback,
          context,
          finalOutcome.error,
          'onRetryCallback',
          log,
        );
      if (state === 'failed')
        rs.callbackRan = await runCallback(
          operator.callbacks.onFailureCallback,
          context,
          finalOutcome.error,
          'onFailureCallback',
          log,
        );
      return state;
    }
  }
}

/** Return value → XCom; branch / short-circuit decisions → the skipmixin record the scheduler reads. */
function resultXComs(declared: BaseOperator, value: unknown, log: TaskLogger): Omit<XComWrite, 'replaces'>[] {
  const flags = declared.serialize();
  const writes: Omit<XComWrite, 'replaces'>[] = [];
  if (value !== undefined) writes.push({ key: RETURN_VALUE_KEY, value });
  if (flags.isBranch) {
    const returned = value === undefined || value === null ? [] : [value].flat().map(String);
    const followed = expandTaskGroupRoots(declared, returned, log);
    const downstream = new Set(declared.downstreamTaskIds);
    const unknown = followed.filter((id) => !downstream.has(id));
    if (unknown.length > 0) {
      throw new Error(
        `Branch returned task id(s) ${unknown.map((u) => `'${u}'`).join(', ')} that are not directly downstream of '${declared.taskId}' (downstream: ${[...downstream].join(', ') || 'none'})`,
      );
    }
    log.info(`Following branch ${followed.join(', ') || '(none)'}; skipping the other downstream tasks`);
    const record: SkipMixinValue = { followed };
    writes.push({ key: SKIPMIXIN_KEY, value: record });
  } else if (flags.isShortCircuit && !value) {
    log.info('Condition result is falsy: skipping all downstream tasks');
    const record: SkipMixinValue = { followed: [], skipAllDownstream: true };
    writes.push({ key: SKIPMIXIN_KEY, value: record });
  }
  return writes;
}

/**
 * A branch may return a task group's id: it follows the group's root tasks (Airflow's
 * _expand_task_group_roots); the rest of the group is reached from them.
 */
function expandTaskGroupRoots(declared: BaseOperator, ids: readonly string[], log: TaskLogger): string[] {
  const dag = declared.dag;
  return ids.flatMap((id) => {
    const group = dag && !dag.hasTask(id) ? dag.taskGroups.get(id) : undefined;
    if (!group) return [id];
    const roots = group.dependencyRoots().map((t) => t.taskId);
    log.info(`Expanding task group ${id} into ${roots.join(', ')}`);
    return roots;
  });
}

/** failed or up_for_retry (with next_retry_at), with the job row closed; null when the TI is no longer ours. */
async function recordFailure(
  db: Kysely<Database>,
  request: TaskRunRequest,
  rs: RunState,
  retry: RetrySettings | null,
  retryable: boolean,
): Promise<TaskInstanceState | null> {
  const end = Date.now();
  const duration = (end - rs.startDate) / 1000;
  const { log } = rs;
  const retrying = retryable && retry !== null && canRetry(request.tryNumber, rs.maxTries);
  const state: TaskInstanceState = retrying ? 'up_for_retry' : 'failed';
  const at = retrying ? nextRetryAt(retry, request.tryNumber, end) : null;
  const ok = await rs.store.finishTry(
    request,
    { state, end_date: end, duration, next_retry_at: at },
    { jobId: rs.jobId, xcoms: [] },
  );
  if (!ok) return null;
  rs.jobEnded = true;
  if (retrying)
    log.info(
      `Marking task as UP_FOR_RETRY (retry at ${new Date(at!).toISOString()}). dag_id=${request.dagId}, task_id=${request.taskId}, run_id=${request.runId}`,
    );
  else
    log.info(
      `Marking task as FAILED. dag_id=${request.dagId}, task_id=${request.taskId}, run_id=${request.runId}`,
    );
  return state;
}

async function recordFailureSafely(
  db: Kysely<Database>,
  request: TaskRunRequest,
  rs: RunState,
  retry: RetrySettings | null,
): Promise<TaskInstanceState | null> {
  try {
    return await recordFailure(
      db,
      request,
      rs,
      retry ?? (await retrySettingsFromSerialized(db, request)),
      true,
    );
  } catch {
    return null;
  }
}

/** The state someone else set while the task ran (we leave it as it is). */
async function externalState(
  db: Kysely<Database>,
  request: TaskRunRequest,
  log: TaskLogger,
): Promise<TaskInstanceState> {
  const now = await readTaskInstance(db, request);
  const state = (now?.state ?? 'failed') as TaskInstanceState;
  log.warn(
    `The task instance was changed from outside while it ran (now ${now?.state ?? 'removed'}, try ${now?.try_number ?? '?'}); leaving that state.`,
  );
  return state;
}

export function retrySettingsOf(operator: BaseOperator): RetrySettings {
  const s = operator.serialize();
  return {
    retryDelayMs: s.retryDelayMs,
    retryExponentialBackoff: s.retryExponentialBackoff,
    maxRetryDelayMs: s.maxRetryDelayMs,
  };
}

/** Retry settings from the serialized DAG (when the DAG file cannot be imported, or from the executor). */
export async function retrySettingsFromSerialized(
  db: Kysely<Database>,
  key: { dagId: string; taskId: string },
): Promise<RetrySettings | null> {
  const row = await db
    .selectFrom('serialized_dag')
    .select('data')
    .where('dag_id', '=', key.dagId)
    .executeTakeFirst();
  if (!row) return null;
  try {
    const dag = JSON.parse(row.data) as {
      tasks?: {
        taskId: string;
        retryDelayMs: number;
        retryExponentialBackoff: boolean;
        maxRetryDelayMs: number | null;
      }[];
    };
    const t = dag.tasks?.find((x) => x.taskId === key.taskId);
    return t
      ? {
          retryDelayMs: t.retryDelayMs,
          retryExponentialBackoff: t.retryExponentialBackoff,
          maxRetryDelayMs: t.maxRetryDelayMs,
        }
      : null;
  } catch {
    return null;
  }
}

/** The previous successful run's data interval (prev_data_interval_*_success in templates). */
export interface PreviousSuccess {
  start: number;
  end: number;
}

/** The context variables that need the last successful run (read at the start of each try). */
const PREVIOUS_SUCCESS_VARIABLES = /prev_data_interval_(start|end)_success/;

/**
 * Whether anything in this try can see the previous successful run's interval: only code that
 * reads the context (an operator's own execute(), a callback, a mapped task's expansion) or a
 * templated field that names it. An operator class says its execute() never reads it with its
 * hint readsPreviousSuccess: false (dag/operator-hints.ts; a subclass is assumed to read it).
 * When nothing can see it, the context carries null and the try saves a query.
 */
export function mayReadPreviousSuccess(operator: BaseOperator): boolean {
  if (operatorHints(operator).readsPreviousSuccess) return true;
  if (Object.values(operator.callbacks).some((callback) => typeof callback === 'function')) return true;
  const fields = operator as unknown as Record<string, unknown>;
  return operator.templateFields.some((field) => mentions(fields[field], PREVIOUS_SUCCESS_VARIABLES));
}

/** A value or anything inside it (strings in arrays and objects) that is not plain data counts as a mention. */
function mentions(value: unknown, pattern: RegExp): boolean {
  if (value === undefined || value === null || typeof value === 'number' || typeof value === 'boolean')
    return false;
  if (typeof value === 'string') return pattern.test(value);
  if (Array.isArray(value)) return value.some((v) => mentions(v, pattern));
  if (Object.getPrototypeOf(value) === Object.prototype)
    return Object.values(value as Record<string, unknown>).some((v) => mentions(v, pattern));
  return true;
}

/** The last successful run before `logicalDate`: its data interval (prev_data_interval_*_success). */
const readPreviousSuccessTemplate = queryTemplate(['dagId', 'logicalDate'], (db, v) =>
  db
    .selectFrom('dag_run as p')
    .select([
      sql<number>`coalesce(p.data_interval_start, p.logical_date)`.as('start'),
      sql<number>`coalesce(p.data_interval_end, p.logical_date)`.as('end'),
    ])
    .where('p.dag_id', '=', v.dagId)
    .where('p.state', '=', 'success')
    .where('p.logical_date', '<', v.logicalDate)
    .orderBy('p.logical_date', 'desc')
    .limit(1),
);

async function readPreviousSuccess(
  db: Kysely<Database>,
  dagId: string,
  logicalDate: number,
): Promise<PreviousSuccess | null> {
  const { rows } = await db.executeQuery<{ start: number; end: number }>(
    readPreviousSuccessTemplate.bind(db, { dagId, logicalDate }),
  );
  const row = rows[0];
  return row ? { start: Number(row.start), end: Number(row.end) } : null;
}

const readDagRunTemplate = queryTemplate(['dagId', 'runId'], (db, v) =>
  db.selectFrom('dag_run').selectAll().where('dag_id', '=', v.dagId).where('run_id', '=', v.runId),
);

/** The run, when the scheduler did not send its context columns (`tasks run`). */
async function readDagRun(db: Kysely<Database>, dagId: string, runId: string): Promise<DagRunRow> {
  const { rows } = await db.executeQuery<DagRunRow>(readDagRunTemplate.bind(db, { dagId, runId }));
  const run = rows[0];
  if (!run) throw new Error(`DAG run ${dagId}/${runId} does not exist`);
  return run;
}

export interface BuildContextInput {
  request: Omit<TaskRunRequest, 'fileloc'>;
  deps: Pick<RunnerDeps, 'db' | 'fernet' | 'env' | 'services'> & { config?: UpdraftConfig };
  loaded: LoadedTask;
  /** A recorded run, or the run info `tasks test` makes up. */
  dagRun: RunContextColumns | DagRunInfo;
  /** The last successful run's data interval before this run (none in test mode). */
  previousSuccess: PreviousSuccess | null;
  log: TaskLogger;
  signal: AbortSignal;
  startDate: number;
  maxTries: number;
  testMode: boolean;
}

/** The Airflow template context, and the operator to run (a mapped task's instance for its map index). */
export async function buildContext(
  input: BuildContextInput,
): Promise<{ context: TaskContext; operator: BaseOperator; pushedXComs: ReadonlyMap<string, unknown> }> {
  const { request, deps, loaded } = input;
  const db = deps.db.kysely;
  // Secrets that reach the task through the environment are masked from its first line of output.
  if (deps.config) {
    processSecrets.configure({
      enabled: deps.config.core.hide_sensitive_var_conn_fields,
      extraSensitiveNames: deps.config.core.sensitive_var_conn_names,
    });
  }
  processSecrets.addEnvironment(deps.env ?? process.env);
  const run = 'run_id' in input.dagRun ? dagRunInfo(input.dagRun) : input.dagRun;
  const xcom = createXComBackend(db, request, input.testMode);
  const services = createTaskServices({
    store: deps.db,
    fernet: deps.fernet,
    xcom,
    env: deps.env,
    triggerDagRun: deps.services?.triggerDagRun,
  });
  const params = validateParams(serializeParams(loaded.dag.params), run.conf);
  const prev = input.previousSuccess;
  // Only a sensor in reschedule mode needs to know when its first poke happened.
  const reschedules = (loaded.operator as { mode?: unknown }).mode === 'reschedule';
  const sensorFirst = input.testMode || !reschedules ? null : await firstRescheduleStart(db, { ...request });
  const taskLog = {
    info: (m: string) => input.log.info(m, 'task'),
    warn: (m: string) => input.log.warn(m, 'task'),
    error: (m: string) => input.log.error(m, 'task'),
    debug: (m: string) => input.log.debug(m, 'task'),
  };
  const context = createTaskContext({
    dag: loaded.dag,
    task: loaded.operator,
    dagRun: run,
    params,
    tryNumber: request.tryNumber,
    maxTries: input.maxTries,
    mapIndex: request.mapIndex,
    startDate: new Date(input.startDate),
    prevDataIntervalStartSuccess: prev ? new Date(prev.start) : null,
    prevDataIntervalEndSuccess: prev ? new Date(prev.end) : null,
    services,
    log: taskLog,
    signal: input.signal,
    testMode: input.testMode,
    sensorFirstPokeAt: sensorFirst !== null ? new Date(sensorFirst) : null,
  });
  // Airflow's snake_case spellings of the TI fields, for templates copied from Airflow
  // (`{{ ti.try_number }}`).
  Object.assign(context.ti, {
    dag_id: request.dagId,
    task_id: request.taskId,
    run_id: run.runId,
    map_index: request.mapIndex,
    try_number: request.tryNumber,
    max_tries: input.maxTries,
  });
  let operator = loaded.operator;
  // Mapped task: expand, then build the instance of our map index. (Operators have a `then`
  // method — Airflow's >> — so they must never be the value of a promise: we call the
  // synchronous instance() rather than awaiting a promise that resolves to an operator.)
  const mapped = operator as BaseOperator & {
    expandInstances?: (ctx: TaskContext) => Promise<Record<string, unknown>[]>;
    instance?: (kwargs: Record<string, unknown>) => BaseOperator;
  };
  if (typeof mapped.expandInstances === 'function' && typeof mapped.instance === 'function') {
    if (request.mapIndex < 0) throw new Error(`Task '${request.taskId}' is mapped; give a map index`);
    const combos = await mapped.expandInstances(context);
    const kwargs = combos[request.mapIndex];
    if (!kwargs)
      throw new Error(
        `Task '${request.taskId}' has no map index ${request.mapIndex} (${combos.length} instances)`,
      );
    operator = mapped.instance(kwargs);
    context.task = operator;
  }
  return { context, operator, pushedXComs: xcom.pushed };
}

async function runCallback(
  callback: TaskCallback | undefined,
  context: TaskContext,
  error: unknown,
  name: string,
  log: TaskLogger,
): Promise<boolean> {
  if (typeof callback !== 'function') return false;
  try {
    await (callback(context, error) as Promise<unknown>);
  } catch (cbError) {
    // A failing callback is logged; it does not change the task's state (Airflow does the same).
    log.error(`Error when executing ${name}: ${errorMessage(cbError)}`);
  }
  return true;
}

function describe(r: Omit<TaskRunRequest, 'fileloc'>): string {
  return `${r.dagId}.${r.taskId} run=${r.runId}${r.mapIndex >= 0 ? ` map_index=${r.mapIndex}` : ''}`;
}

function describeError(error: unknown): string {
  if (error instanceof Error)
    return error.stack && !error.name.endsWith('TimeoutError')
      ? error.stack
      : `${error.name}: ${error.message}`;
  return String(error);
}
