import { Option } from 'commander';
import type { Kysely } from 'kysely';
import type { Database, DagRunRow, TaskInstanceRow, TaskInstanceState } from '../../../db/tables.js';
import { ConflictError, NotFoundError, ValidationError } from '../../../errors.js';
import { parseDate } from '../../../dag-runs/run-id.js';
import { authoringDefaultsFromConfig, setAuthoringDefaults } from '../../../dag/defaults.js';
import { runTaskInstance } from '../../../task-runner/run-task-instance.js';
import { renderTask, testTask } from '../../../task-runner/test-task.js';
import type { CliEnv, RegisterCommand } from '../../command-kit.js';
import { migratedStore } from '../../metadata-store.js';
import { parseDagsForCli, tasksCommand } from '../../dag-access.js';
import { taskTriggerService } from '../../../dag-runs/trigger-service.js';

/**
 * `tasks run`, `tasks test`, `tasks render` (Airflow's spellings and arguments). `tasks run` runs
 * one try through the task runner exactly as a task process of the executor would (guarded claim,
 * job + heartbeat, log file, final state), in this process; `tasks test` runs the task recording
 * nothing and prints its log; `tasks render` prints the rendered templated fields.
 */
const RUNNABLE_WITHOUT_FORCE: readonly (TaskInstanceState | null)[] = [
  null,
  'scheduled',
  'queued',
  'up_for_retry',
  'up_for_reschedule',
];
const FINISHED_OK: readonly (TaskInstanceState | null)[] = ['success', 'skipped'];

async function findRun(db: Kysely<Database>, dagId: string, runIdOrDate: string): Promise<DagRunRow> {
  const byId = await db
    .selectFrom('dag_run')
    .selectAll()
    .where('dag_id', '=', dagId)
    .where('run_id', '=', runIdOrDate)
    .executeTakeFirst();
  if (byId) return byId;
  let when: number | null = null;
  try {
    when = parseDate(runIdOrDate);
  } catch {
    when = null;
  }
  const byDate =
    when === null
      ? undefined
      : await db
          .selectFrom('dag_run')
          .selectAll()
          .where('dag_id', '=', dagId)
          .where('logical_date', '=', when)
          .executeTakeFirst();
  if (!byDate)
    throw new NotFoundError(
      `DAG run of '${dagId}' with run id or logical date '${runIdOrDate}' not found (create one with \`dags trigger\`)`,
    );
  return byDate;
}

async function dagFileloc(cli: CliEnv, db: Kysely<Database>, dagId: string): Promise<string> {
  const find = () => db.selectFrom('dag').select('fileloc').where('dag_id', '=', dagId).executeTakeFirst();
  let row = await find();
  if (!row) {
    await parseDagsForCli(cli);
    row = await find();
  }
  if (!row) throw new NotFoundError(`DAG '${dagId}' not found`);
  return row.fileloc;
}

/** The upstream tasks of a default (all_success) task must have succeeded or been skipped. */
async function unmetUpstream(db: Kysely<Database>, ti: TaskInstanceRow): Promise<string[]> {
  const row = await db
    .selectFrom('serialized_dag')
    .select('data')
    .where('dag_id', '=', ti.dag_id)
    .executeTakeFirst();
  if (!row) return [];
  const dag = JSON.parse(row.data) as {
    tasks: { taskId: string; upstream: string[]; triggerRule: string }[];
  };
  const task = dag.tasks.find((t) => t.taskId === ti.task_id);
  if (!task || task.upstream.length === 0 || task.triggerRule !== 'all_success') return [];
  const ups = await db
    .selectFrom('task_instance')
    .select(['task_id', 'state'])
    .where('dag_id', '=', ti.dag_id)
    .where('run_id', '=', ti.run_id)
    .where('task_id', 'in', task.upstream)
    .execute();
  return task.upstream.filter((id) => !ups.some((u) => u.task_id === id && FINISHED_OK.includes(u.state)));
}

/**
 * Queue a new try of the TI for this command, as the scheduler would (try_number + 1; a sensor
 * back from up_for_reschedule keeps its try). Guarded: if the TI changes meanwhile, nothing happens.
 */
async function queueTry(db: Kysely<Database>, ti: TaskInstanceRow): Promise<number> {
  if (ti.state === 'queued') return ti.try_number;
  const tryNumber = ti.state === 'up_for_reschedule' ? ti.try_number : ti.try_number + 1;
  let q = db
    .updateTable('task_instance')
    .set({
      state: 'queued',
      try_number: tryNumber,
      queued_dttm: Date.now(),
      next_retry_at: null,
      updated_at: Date.now(),
    })
    .where('dag_id', '=', ti.dag_id)
    .where('run_id', '=', ti.run_id)
    .where('task_id', '=', ti.task_id)
    .where('map_index', '=', ti.map_index)
    .where('try_number', '=', ti.try_number);
  q = ti.state === null ? q.where('state', 'is', null) : q.where('state', '=', ti.state);
  const result = await q.executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1)
    throw new ConflictError(`Task instance ${ti.task_id} changed while preparing to run it; try again`);
  return tryNumber;
}

function parseMapIndex(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < -1)
    throw new ValidationError(`--map-index must be an integer >= -1, got '${text}'`);
  return n;
}

function parseJsonObject(text: string | undefined, what: string): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new ValidationError(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** Ctrl-C / SIGTERM abort the running task (its processes are killed, its end recorded). */
function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(new Error(`Received ${sig}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export const registerTaskRun: RegisterCommand = (program, cli) => {
  const tasks = tasksCommand(program);
  const mapIndexOption = () =>
    new Option('--map-index <n>', 'map index of a mapped task instance').default(-1).argParser(parseMapIndex);

  tasks
    .command('run <dag_id> <task_id> <run_id_or_date>')
    .description('Run one task instance through the task runner, recording its state, log and XComs')
    .addOption(mapIndexOption())
    .option(
      '-i, --ignore-all-dependencies',
      'run even if upstream tasks have not succeeded or the task already finished',
    )
    .option(
      '-l, --local',
      'run in this process as a LocalTaskJob (the default; accepted for Airflow compatibility)',
    )
    .action(
      async (
        dagId: string,
        taskId: string,
        runIdOrDate: string,
        opts: { mapIndex: number; ignoreAllDependencies?: boolean },
      ) => {
        const ctx = cli.context();
        setAuthoringDefaults(authoringDefaultsFromConfig(ctx.config.values));
        const store = await migratedStore(cli);
        const db = store.kysely;
        const run = await findRun(db, dagId, runIdOrDate);
        const ti = await db
          .selectFrom('task_instance')
          .selectAll()
          .where('dag_id', '=', dagId)
          .where('run_id', '=', run.run_id)
          .where('task_id', '=', taskId)
          .where('map_index', '=', opts.mapIndex)
          .executeTakeFirst();
        if (!ti)
          throw new NotFoundError(
            `Task instance ${dagId}.${taskId} (map index ${opts.mapIndex}) not found in run ${run.run_id}`,
          );
        if (ti.state === 'running')
          throw new ConflictError(
            `Task instance ${dagId}.${taskId} in ${run.run_id} is already running (pid ${ti.pid ?? '?'} on ${ti.hostname ?? '?'})`,
          );
        if (!opts.ignoreAllDependencies) {
          if (!RUNNABLE_WITHOUT_FORCE.includes(ti.state)) {
            throw new ConflictError(
              `Task instance ${dagId}.${taskId} is in the '${ti.state}' state, which is not a valid state to run; use -i to run it anyway`,
            );
          }
          const unmet = await unmetUpstream(db, ti);
          if (unmet.length > 0)
            throw new ConflictError(
              `Upstream task(s) ${unmet.join(', ')} have not succeeded; use -i to ignore dependencies`,
            );
        }
        const fileloc = await dagFileloc(cli, db, dagId);
        const tryNumber = await queueTry(db, ti);
        const abort = abortOnSignals();
        try {
          const result = await runTaskInstance(
            { dagId, runId: run.run_id, taskId, mapIndex: opts.mapIndex, tryNumber, fileloc },
            {
              db: store,
              fernet: ctx.fernet,
              config: ctx.config.values,
              executorClass: null,
              ownsProcess: true,
              signal: abort.signal,
              echo: (line) => process.stdout.write(line),
              services: { triggerDagRun: taskTriggerService(await ctx.db()) },
            },
          );
          if (!result.ran) throw new ConflictError(result.reason);
          process.stdout.write(
            `Task ${dagId}.${taskId} try ${tryNumber} ended: ${result.state} (log: ${result.logPath})\n`,
          );
          if (!FINISHED_OK.includes(result.state)) process.exitCode = 1;
        } finally {
          abort.dispose();
        }
      },
    );

  tasks
    .command('test <dag_id> <task_id> [logical_date]')
    .description('Run a task once in this process without recording anything; print its log')
    .addOption(mapIndexOption())
    .option('-t, --task-params <json>', 'JSON object of params/conf for this test run')
    .action(
      async (
        dagId: string,
        taskId: string,
        date: string | undefined,
        opts: { mapIndex: number; taskParams?: string },
      ) => {
        const ctx = cli.context();
        setAuthoringDefaults(authoringDefaultsFromConfig(ctx.config.values));
        const store = await migratedStore(cli);
        const conf = parseJsonObject(opts.taskParams, '--task-params');
        const abort = abortOnSignals();
        try {
          const outcome = await testTask({
            db: store,
            fernet: ctx.fernet,
            fileloc: await dagFileloc(cli, store.kysely, dagId),
            dagId,
            taskId,
            mapIndex: opts.mapIndex,
            logicalDate: date === undefined ? Date.now() : parseDate(date, 'logical date'),
            conf,
            echo: (line) => process.stdout.write(line),
            signal: abort.signal,
          });
          if (outcome.kind === 'failed') process.exitCode = 1;
        } finally {
          abort.dispose();
        }
      },
    );

  tasks
    .command('render <dag_id> <task_id> <logical_date_or_run_id>')
    .description("Print a task's templated fields rendered for a date or run")
    .addOption(mapIndexOption())
    .action(async (dagId: string, taskId: string, when: string, opts: { mapIndex: number }) => {
      const ctx = cli.context();
      setAuthoringDefaults(authoringDefaultsFromConfig(ctx.config.values));
      const store = await migratedStore(cli);
      const recorded = await store.kysely
        .selectFrom('dag_run')
        .select(['run_id', 'logical_date'])
        .where('dag_id', '=', dagId)
        .where('run_id', '=', when)
        .executeTakeFirst();
      const rendered = await renderTask({
        db: store,
        fernet: ctx.fernet,
        fileloc: await dagFileloc(cli, store.kysely, dagId),
        dagId,
        taskId,
        mapIndex: opts.mapIndex,
        logicalDate: recorded ? recorded.logical_date : parseDate(when, 'logical date'),
        runId: recorded?.run_id,
        echo: () => undefined,
      });
      const rule = '# ' + '-'.repeat(58);
      for (const [field, value] of Object.entries(rendered)) {
        const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
        process.stdout.write(`\n${rule}\n# property: ${field}\n${rule}\n\n${text}\n`);
      }
    });
};
