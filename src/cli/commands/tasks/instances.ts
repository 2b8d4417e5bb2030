import { clearTaskInstances, getDagRow, getSerializedDag, parseDate } from '../../../dag-runs/index.js';
import { NotFoundError } from '../../../errors.js';
import {
  jsonOption,
  recordOutputOption,
  type RecordOutputOpts,
  type RegisterCommand,
} from '../../command-kit.js';
import { printRows } from '../../output.js';
import { confirm } from '../../confirm.js';
import { tasksCommand, withDag } from '../../dag-access.js';

export const registerTaskInstances: RegisterCommand = (program, cli) => {
  const tasks = tasksCommand(program);

  tasks
    .command('state <dag_id> <task_id> <logical_date_or_run_id>')
    .description('Print the state of a task instance')
    .option('-m, --map-index <n>', 'map index of a mapped task', (v) => Number(v), -1)
    .addOption(recordOutputOption('the task instance'))
    .addOption(jsonOption())
    .action(
      async (dagId: string, taskId: string, when: string, opts: RecordOutputOpts & { mapIndex: number }) => {
        const db = (await cli.context().db()).kysely;
        await withDag(cli, () => getDagRow(db, dagId));
        const dag = await getSerializedDag(db, dagId);
        if (!dag.tasks.some((t) => t.taskId === taskId))
          throw new NotFoundError(`Task '${taskId}' not found in DAG '${dagId}'`);
        let runQ = db.selectFrom('dag_run').select('run_id').where('dag_id', '=', dagId);
        let byDate: number | undefined;
        try {
          byDate = parseDate(when);
        } catch {
          byDate = undefined;
        }
        runQ =
          byDate !== undefined ? runQ.where('logical_date', '=', byDate) : runQ.where('run_id', '=', when);
        const run = await runQ.executeTakeFirst();
        if (!run) throw new NotFoundError(`DAG '${dagId}' has no run at ${when}`);
        const ti = await db
          .selectFrom('task_instance')
          .select('state')
          .where('dag_id', '=', dagId)
          .where('run_id', '=', run.run_id)
          .where('task_id', '=', taskId)
          .where('map_index', '=', opts.mapIndex)
          .executeTakeFirst();
        if (!opts.output) {
          console.log(ti?.state ?? 'None');
          return;
        }
        // A task instance not created yet is printed with state null, as `tasks state` prints None.
        printRows(
          [
            {
              dag_id: dagId,
              task_id: taskId,
              run_id: run.run_id,
              map_index: opts.mapIndex,
              state: ti?.state ?? null,
            },
          ],
          ['dag_id', 'task_id', 'run_id', 'map_index', 'state'],
          opts.output,
        );
      },
    );

  tasks
    .command('clear <dag_id>')
    .description('Clear task instances so that they run again')
    .option('-t, --task-regex <regex>', 'only tasks whose id matches this regular expression')
    .option('-s, --start-date <date>', 'runs with logical date from')
    .option('-e, --end-date <date>', 'runs with logical date to')
    .option('-u, --upstream', 'also clear upstream tasks')
    .option('-d, --downstream', 'also clear downstream tasks')
    .option('-f, --only-failed', 'only failed (and upstream_failed) task instances')
    .option('-r, --only-running', 'only running (and queued) task instances')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(
      async (
        dagId: string,
        opts: {
          taskRegex?: string;
          startDate?: string;
          endDate?: string;
          upstream?: boolean;
          downstream?: boolean;
          onlyFailed?: boolean;
          onlyRunning?: boolean;
          yes?: boolean;
        },
      ) => {
        const ctx = cli.context();
        const base = {
          taskRegex: opts.taskRegex,
          start: opts.startDate ? parseDate(opts.startDate, 'start date') : undefined,
          end: opts.endDate ? parseDate(opts.endDate, 'end date') : undefined,
          upstream: opts.upstream,
          downstream: opts.downstream,
          onlyFailed: opts.onlyFailed,
          onlyRunning: opts.onlyRunning,
        };
        const preview = await withDag(cli, async () =>
          clearTaskInstances(await ctx.db(), dagId, { ...base, dryRun: true }),
        );
        if (preview.length === 0) {
          console.log('No task instances to clear');
          return;
        }
        if (!opts.yes) {
          console.log(
            preview
              .map(
                (ti) =>
                  `<TaskInstance: ${ti.dag_id}.${ti.task_id} ${ti.run_id}${ti.map_index >= 0 ? ` [${ti.map_index}]` : ''} [${ti.state ?? 'none'}]>`,
              )
              .join('\n'),
          );
          if (!(await confirm('You are about to clear these task instances. Are you sure? (y/n) '))) {
            console.log('Cancelled, nothing was cleared.');
            return;
          }
        }
        const cleared = await clearTaskInstances(await ctx.db(), dagId, base);
        console.log(`Cleared ${cleared.length} task instance(s)`);
      },
    );
};
