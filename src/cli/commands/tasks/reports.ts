import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { getDagRow } from '../../../dag-runs/index.js';
import { NotFoundError, ValidationError } from '../../../errors.js';
import { taskLogPath } from '../../../task-runner/task-log.js';
import { readTryLog } from '../../../web/data/logs.js';
import { outputOption, jsonOption, type OutputOpts, type RegisterCommand } from '../../command-kit.js';
import { printRows } from '../../output.js';
import { tasksCommand, withDag } from '../../dag-access.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const wholeNumber = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ValidationError(`${what} must be a whole number, got '${v}'`);
  return n;
};

/** Read-only task commands Airflow users reach for: one run's task states, and a try's log. */
export const registerTaskReports: RegisterCommand = (program, cli) => {
  const tasks = tasksCommand(program);

  tasks
    .command('states-for-dag-run <dag_id> <dag_run_id>')
    .description('Print the state of every task instance of a DAG run')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(async (dagId: string, runId: string, opts: OutputOpts) => {
      const db = (await cli.context().db()).kysely;
      await withDag(cli, () => getDagRow(db, dagId));
      const run = await db
        .selectFrom('dag_run')
        .select(['run_id', 'logical_date'])
        .where('dag_id', '=', dagId)
        .where('run_id', '=', runId)
        .executeTakeFirst();
      if (!run) throw new NotFoundError(`DagRun ${runId} of DAG '${dagId}' not found`);
      const tis = await db
        .selectFrom('task_instance')
        .select(['task_id', 'map_index', 'state', 'start_date', 'end_date'])
        .where('dag_id', '=', dagId)
        .where('run_id', '=', runId)
        .orderBy('task_id')
        .orderBy('map_index')
        .execute();
      printRows(
        tis.map((ti) => ({
          dag_id: dagId,
          execution_date: iso(run.logical_date),
          task_id: ti.task_id,
          map_index: ti.map_index,
          state: ti.state,
          start_date: iso(ti.start_date),
          end_date: iso(ti.end_date),
        })),
        ['dag_id', 'execution_date', 'task_id', 'map_index', 'state', 'start_date', 'end_date'],
        opts.output,
      );
    });

  tasks
    .command('logs <dag_id> <task_id> <dag_run_id>')
    .description("Print a try's log (default: the latest try)")
    .option('-t, --try-number <n>', 'which try', wholeNumber('--try-number'))
    .option('-m, --map-index <n>', 'map index of a mapped task', wholeNumber('--map-index'), -1)
    .action(
      async (
        dagId: string,
        taskId: string,
        runId: string,
        opts: { tryNumber?: number; mapIndex: number },
      ) => {
        const ctx = cli.context();
        const db = (await ctx.db()).kysely;
        await withDag(cli, () => getDagRow(db, dagId));
        const ti = await db
          .selectFrom('task_instance')
          .select(['try_number', 'hostname'])
          .where('dag_id', '=', dagId)
          .where('run_id', '=', runId)
          .where('task_id', '=', taskId)
          .where('map_index', '=', opts.mapIndex)
          .executeTakeFirst();
        if (!ti)
          throw new NotFoundError(
            `No task instance ${taskId}${opts.mapIndex >= 0 ? `[${opts.mapIndex}]` : ''} in run ${runId} of DAG '${dagId}'`,
          );
        const tryNumber = opts.tryNumber ?? ti.try_number;
        if (tryNumber < 1 || tryNumber > ti.try_number)
          throw new NotFoundError(
            ti.try_number === 0
              ? `${taskId} has not run yet in ${runId}`
              : `${taskId} in ${runId} has tries 1 to ${ti.try_number}; there is no try ${tryNumber}`,
          );
        const key = { dagId, runId, taskId, mapIndex: opts.mapIndex, tryNumber };
        const path = taskLogPath(ctx.config.values.logging.base_log_folder, key);
        try {
          await access(path);
        } catch {
          // Not on this host: the worker that ran this try serves it (read chunk by chunk).
          let chunk = await readTryLog(ctx.config.values, db, key, 0, ti.hostname);
          if (!chunk.exists) {
            const why = chunk.content.trim();
            throw new NotFoundError(
              `No log for try ${tryNumber} of ${taskId} in ${runId} (looked for ${path})${why ? `\n${why}` : ''}`,
            );
          }
          for (;;) {
            process.stdout.write(chunk.content);
            // The end of the log, or the worker stopped answering (its message was just printed).
            if (chunk.content === '' || !chunk.exists) break;
            chunk = await readTryLog(ctx.config.values, db, key, chunk.nextOffset, ti.hostname);
          }
          return;
        }
        await pipeline(createReadStream(path), process.stdout, { end: false });
      },
    );
};
