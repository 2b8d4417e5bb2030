import type { Kysely } from 'kysely';
import type { Database, DagRunRow } from '../db/tables.js';
import type { MetadataDb } from '../db/index.js';
import type { Fernet } from '../security/fernet.js';
import { errorMessage } from '../errors.js';
import type { DagRunInfo, TaskContext } from '../dag/execution.js';
import type { BaseOperator } from '../dag/base-operator.js';
import { dagTimetable } from '../timetables/index.js';
import { executeOperator, type ExecutionOutcome } from './execute-task.js';
import { loadTask } from './load-task.js';
import { renderTaskFields } from './render.js';
import { openTaskLogger, type TaskLogger } from './task-log.js';
import { dagRunInfo } from '../core/run-context.js';
import { buildContext } from './run-task-instance.js';

/**
 * `tasks test` and `tasks render`: run or render a task in this process without recording
 * anything (no state, no job, no XCom writes, no log file) — the log goes to `echo`.
 */
export interface UnrecordedInput {
  db: MetadataDb;
  fernet: Fernet;
  fileloc: string;
  dagId: string;
  taskId: string;
  mapIndex: number;
  /** The logical date to pretend; a recorded run at that date (or with that run id) is used if there is one. */
  logicalDate: number;
  runId?: string;
  /** Extra conf (over the run's), like `tasks test -t '{json}'`. */
  conf?: Record<string, unknown>;
  echo: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

interface Prepared {
  context: TaskContext;
  operator: BaseOperator;
  log: TaskLogger;
  controller: AbortController;
}

async function findRun(
  db: Kysely<Database>,
  dagId: string,
  runId: string | undefined,
  logicalDate: number,
): Promise<DagRunRow | undefined> {
  let q = db.selectFrom('dag_run').selectAll().where('dag_id', '=', dagId);
  q = runId !== undefined ? q.where('run_id', '=', runId) : q.where('logical_date', '=', logicalDate);
  return q.executeTakeFirst();
}

async function prepare(input: UnrecordedInput): Promise<Prepared> {
  const loaded = await loadTask(input.fileloc, input.dagId, input.taskId);
  const recorded = await findRun(input.db.kysely, input.dagId, input.runId, input.logicalDate);
  let run: DagRunInfo;
  if (recorded) {
    run = dagRunInfo(recorded);
  } else {
    const serialized = loaded.dag.serialize();
    const interval = dagTimetable(serialized).inferManualDataInterval(input.logicalDate);
    run = {
      dagId: input.dagId,
      runId: input.runId ?? `__updraft_temporary_run_${new Date(input.logicalDate).toISOString()}__`,
      runType: 'manual',
      conf: {},
      logicalDate: new Date(input.logicalDate),
      dataIntervalStart: new Date(interval?.start ?? input.logicalDate),
      dataIntervalEnd: new Date(interval?.end ?? input.logicalDate),
      externalTrigger: true,
    };
  }
  run = { ...run, conf: { ...run.conf, ...(input.conf ?? {}) } };
  const log = openTaskLogger({ path: null, echo: input.echo });
  const controller = new AbortController();
  const { context, operator } = await buildContext({
    request: {
      dagId: input.dagId,
      runId: run.runId,
      taskId: input.taskId,
      mapIndex: input.mapIndex,
      tryNumber: 1,
    },
    deps: { db: input.db, fernet: input.fernet, env: input.env },
    loaded,
    dagRun: run,
    previousSuccess: null,
    log,
    signal: controller.signal,
    startDate: Date.now(),
    maxTries: loaded.operator.retries,
    testMode: true,
  });
  return { context, operator, log, controller };
}

/** The rendered templated fields of a task at a date (Airflow's `tasks render`). */
export async function renderTask(input: UnrecordedInput): Promise<Record<string, unknown>> {
  const { context, operator } = await prepare(input);
  return renderTaskFields(operator, context);
}

/** Run a task once, recording nothing (Airflow's `tasks test`). */
export async function testTask(input: UnrecordedInput & { signal?: AbortSignal }): Promise<ExecutionOutcome> {
  const { context, operator, log, controller } = await prepare(input);
  input.signal?.addEventListener('abort', () => controller.abort(input.signal?.reason), { once: true });
  await renderTaskFields(operator, context);
  log.info(
    `Running task ${input.dagId}.${input.taskId} for ${context.ds} in test mode (nothing is recorded)`,
  );
  const { outcome } = await executeOperator({
    operator,
    context,
    controller,
    executionTimeoutMs: operator.executionTimeoutMs,
    settleGraceMs: 2000,
    log,
    ownsProcess: true,
  });
  switch (outcome.kind) {
    case 'success':
      if (outcome.value !== undefined) log.info(`Done. Returned value was: ${JSON.stringify(outcome.value)}`);
      log.info('Marking task as SUCCESS (test mode: not recorded)');
      break;
    case 'skipped':
      log.info(`${outcome.message}. Marking task as SKIPPED (test mode: not recorded)`);
      break;
    case 'reschedule':
      log.info(`The sensor asked to be rescheduled at ${outcome.at.toISOString()} (test mode: not recorded)`);
      break;
    case 'failed':
      log.error(
        `Task failed: ${outcome.error instanceof Error ? (outcome.error.stack ?? outcome.error.message) : errorMessage(outcome.error)}`,
      );
      break;
  }
  return outcome;
}
