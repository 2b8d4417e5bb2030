import { Option } from 'commander';
import type { Command } from 'commander';
import { backfill } from '../../../scheduler/backfill.js';
import { testDag } from '../../../scheduler/dag-test.js';
import { lastAutomatedInterval, nextRunAfter } from '../../../scheduler/next-dagrun.js';
import {
  deleteDag,
  getDagRow,
  getSerializedDag,
  parseDate,
  pausedRunNotice,
  setDagPaused,
  triggerDagRun,
} from '../../../dag-runs/index.js';
import type { DagRunRow } from '../../../db/tables.js';
import { NotFoundError, ValidationError } from '../../../errors.js';
import {
  outputOption,
  jsonOption,
  recordOutputOption,
  type OutputOpts,
  type RecordOutputOpts,
  type RegisterCommand,
} from '../../command-kit.js';
import { printRows } from '../../output.js';
import { confirm } from '../../confirm.js';
import { dagsCommand, withDag } from '../../dag-access.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The columns Airflow's `dags trigger -o` prints for the created run. */
const DAG_RUN_RECORD_COLUMNS = [
  'conf',
  'dag_id',
  'dag_run_id',
  'data_interval_start',
  'data_interval_end',
  'end_date',
  'external_trigger',
  'logical_date',
  'run_type',
  'start_date',
  'state',
];

function dagRunRecord(run: DagRunRow): Record<string, unknown> {
  return {
    conf: run.conf ? (JSON.parse(run.conf) as unknown) : {},
    dag_id: run.dag_id,
    dag_run_id: run.run_id,
    data_interval_start: iso(run.data_interval_start),
    data_interval_end: iso(run.data_interval_end),
    end_date: iso(run.end_date),
    external_trigger: run.external_trigger === 1,
    logical_date: iso(run.logical_date),
    run_type: run.run_type,
    start_date: iso(run.start_date),
    state: run.state,
  };
}

export const registerDagRuns: RegisterCommand = (program, cli) => {
  const dags: Command = dagsCommand(program);

  dags
    .command('trigger <dag_id>')
    .description('Trigger a manual DAG run')
    .option('-c, --conf <json>', 'JSON object passed to the run as conf (overrides params)')
    .option('-r, --run-id <run_id>', 'run id (default manual__<logical date>)')
    .option('-e, --exec-date <date>', 'logical date (default now)')
    .addOption(new Option('-l, --logical-date <date>', 'same as --exec-date').hideHelp())
    .option(
      '--no-replace-microseconds',
      'keep the sub-second part of the default logical date (dropped by default, as in Airflow)',
    )
    .addOption(recordOutputOption('the created run'))
    .addOption(jsonOption())
    .action(
      async (
        dagId: string,
        opts: RecordOutputOpts & {
          conf?: string;
          runId?: string;
          execDate?: string;
          logicalDate?: string;
          replaceMicroseconds: boolean;
        },
      ) => {
        const when = opts.execDate ?? opts.logicalDate;
        // Without -e the logical date is now, whole seconds (Airflow's replace_microseconds), so the
        // run id, {{ ts }} and {{ logical_date }} all show the same instant.
        const logicalDate = when
          ? parseDate(when, 'logical date')
          : opts.replaceMicroseconds
            ? Math.floor(Date.now() / 1000) * 1000
            : undefined;
        const ctx = cli.context();
        const run = await withDag(cli, async () =>
          triggerDagRun(await ctx.db(), dagId, { conf: opts.conf ?? null, runId: opts.runId, logicalDate }),
        );
        const notice = await pausedRunNotice(await ctx.db(), dagId);
        if (opts.output) {
          printRows([dagRunRecord(run)], DAG_RUN_RECORD_COLUMNS, opts.output);
          if (notice) process.stderr.write(`[INFO] ${notice}\n`);
          return;
        }
        console.log(
          `Created <DagRun ${dagId} @ ${iso(run.logical_date)}: ${run.run_id}, state:${run.state}, queued_at: ${iso(run.queued_at)}. externally triggered: True>`,
        );
        if (notice) console.log(`[INFO] ${notice}`);
      },
    );

  for (const [name, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    dags
      .command(`${name} <dag_id>`)
      .description(`${paused ? 'Pause' : 'Resume'} a DAG`)
      .action(async (dagId: string) => {
        await withDag(cli, async () => setDagPaused(await cli.context().db(), dagId, paused));
        console.log(`Dag: ${dagId}, paused: ${paused ? 'True' : 'False'}`);
      });
  }

  dags
    .command('list-runs')
    .description('List the runs of a DAG')
    .requiredOption('-d, --dag-id <dag_id>', 'the DAG')
    .option('--state <state>', 'only runs in this state (queued, running, success, failed)')
    .option('--no-backfill', 'leave out backfill runs')
    .option('-s, --start-date <date>', 'logical date from')
    .option('-e, --end-date <date>', 'logical date to')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(
      async (
        opts: OutputOpts & {
          dagId: string;
          state?: string;
          backfill: boolean;
          startDate?: string;
          endDate?: string;
        },
      ) => {
        if (opts.state && !['queued', 'running', 'success', 'failed'].includes(opts.state)) {
          throw new ValidationError(`Invalid state '${opts.state}': use queued, running, success or failed`);
        }
        const db = (await cli.context().db()).kysely;
        await withDag(cli, () => getDagRow(db, opts.dagId));
        let q = db.selectFrom('dag_run').selectAll().where('dag_id', '=', opts.dagId);
        if (opts.state) q = q.where('state', '=', opts.state as 'queued');
        if (!opts.backfill) q = q.where('run_type', '!=', 'backfill');
        if (opts.startDate) q = q.where('logical_date', '>=', parseDate(opts.startDate));
        if (opts.endDate) q = q.where('logical_date', '<=', parseDate(opts.endDate));
        const rows = await q.orderBy('logical_date', 'desc').execute();
        printRows(
          rows.map((r) => ({
            dag_id: r.dag_id,
            run_id: r.run_id,
            state: r.state,
            execution_date: iso(r.logical_date),
            start_date: iso(r.start_date),
            end_date: iso(r.end_date),
          })),
          ['dag_id', 'run_id', 'state', 'execution_date', 'start_date', 'end_date'],
          opts.output,
        );
      },
    );

  dags
    .command('state <dag_id> <logical_date>')
    .description('Print the state of the DAG run at a logical date (or with a run id)')
    .addOption(recordOutputOption('the run'))
    .addOption(jsonOption())
    .action(async (dagId: string, when: string, opts: RecordOutputOpts) => {
      const db = (await cli.context().db()).kysely;
      await withDag(cli, () => getDagRow(db, dagId));
      let q = db.selectFrom('dag_run').selectAll().where('dag_id', '=', dagId);
      const byDate = (() => {
        try {
          return parseDate(when);
        } catch {
          return undefined;
        }
      })();
      q = byDate !== undefined ? q.where('logical_date', '=', byDate) : q.where('run_id', '=', when);
      const run = await q.executeTakeFirst();
      if (!run) throw new NotFoundError(`DAG '${dagId}' has no run at ${when}`);
      if (opts.output) printRows([dagRunRecord(run)], DAG_RUN_RECORD_COLUMNS, opts.output);
      else console.log(run.conf ? `${run.state}, ${run.conf}` : run.state);
    });

  dags
    .command('next-execution <dag_id>')
    .description('Print the logical dates of the next scheduled runs')
    .option('-n, --num-executions <n>', 'how many', (v) => Number(v), 1)
    .addOption(recordOutputOption('the runs (logical date and data interval)'))
    .addOption(jsonOption())
    .action(async (dagId: string, opts: RecordOutputOpts & { numExecutions: number }) => {
      if (!Number.isInteger(opts.numExecutions) || opts.numExecutions < 1)
        throw new ValidationError('--num-executions must be a positive whole number');
      const db = (await cli.context().db()).kysely;
      const row = await withDag(cli, () => getDagRow(db, dagId));
      const dag = await getSerializedDag(db, dagId);
      const paused = '[INFO] Please be reminded this DAG is PAUSED now.';
      if (row.is_paused) {
        if (opts.output) process.stderr.write(`${paused}\n`);
        else console.log(paused);
      }
      let last = await lastAutomatedInterval(db, dagId);
      const now = Date.now();
      const upcoming: Record<string, unknown>[] = [];
      for (let i = 0; i < opts.numExecutions; i++) {
        const next = nextRunAfter(dag, last, now);
        if (!next) break;
        upcoming.push({
          logical_date: iso(next.logicalDate),
          data_interval_start: iso(next.dataInterval.start),
          data_interval_end: iso(next.dataInterval.end),
        });
        last = next.dataInterval;
      }
      if (opts.output) {
        printRows(upcoming, ['logical_date', 'data_interval_start', 'data_interval_end'], opts.output);
        return;
      }
      for (const u of upcoming) console.log(u['logical_date']);
      if (upcoming.length < opts.numExecutions) console.log('None');
    });

  dags
    .command('test <dag_id> [logical_date]')
    .description(
      'Run one DAG run without scheduler or executor (tries run in a task process, as under an executor), and print its task states',
    )
    .option('-c, --conf <json>', 'JSON conf for the run')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(async (dagId: string, when: string | undefined, opts: OutputOpts & { conf?: string }) => {
      const ctx = cli.context();
      const logicalDate = when ? parseDate(when, 'logical date') : undefined;
      // For a script (-o json…), stdout holds only the records: the log and the summary go to stderr.
      const out = opts.output === 'table' ? process.stdout : process.stderr;
      const { run, tis } = await withDag(cli, () =>
        testDag(ctx, dagId, {
          logicalDate,
          conf: opts.conf ?? null,
          echo: (line) => out.write(line),
        }),
      );
      printRows(
        tis.map((t) => ({
          task_id: t.task_id,
          map_index: t.map_index,
          state: t.state,
          try_number: t.try_number,
        })),
        ['task_id', 'map_index', 'state', 'try_number'],
        opts.output,
      );
      out.write(`DAG run ${run.run_id}: ${run.state}\n`);
      if (run.state !== 'success') process.exitCode = 1;
    });

  dags
    .command('backfill <dag_id>')
    .description('Create runs for every schedule interval between two dates; the scheduler runs them')
    .requiredOption('-s, --start-date <date>', 'first logical date')
    .requiredOption('-e, --end-date <date>', 'last logical date')
    .option('--dry-run', 'print the runs that would be created')
    .option('--reset-dagruns', 'delete existing runs in the range and run them afresh')
    .option('--rerun-failed-tasks', 'clear failed tasks of existing runs in the range')
    .option('-y, --yes', 'do not ask before --reset-dagruns')
    .option('-c, --conf <json>', 'JSON conf for the new runs')
    .addOption(recordOutputOption('the runs (created, existing, or with --dry-run to be created)'))
    .addOption(jsonOption())
    .action(
      async (
        dagId: string,
        opts: RecordOutputOpts & {
          startDate: string;
          endDate: string;
          dryRun?: boolean;
          resetDagruns?: boolean;
          rerunFailedTasks?: boolean;
          yes?: boolean;
          conf?: string;
        },
      ) => {
        const start = parseDate(opts.startDate, 'start date');
        const end = parseDate(opts.endDate, 'end date');
        const { parseConf } = await import('../../../dag-runs/trigger.js');
        const conf = parseConf(opts.conf ?? null);
        const ctx = cli.context();
        if (
          opts.resetDagruns &&
          !opts.dryRun &&
          !opts.yes &&
          !(await confirm(
            `This deletes the existing runs of ${dagId} between ${opts.startDate} and ${opts.endDate}. Proceed? (y/n) `,
          ))
        ) {
          console.log('Cancelled, nothing was changed.');
          return;
        }
        const plan = await withDag(cli, async () =>
          backfill(await ctx.db(), dagId, {
            start,
            end,
            dryRun: opts.dryRun,
            resetDagRuns: opts.resetDagruns,
            rerunFailedTasks: opts.rerunFailedTasks,
            conf,
          }),
        );
        const notice = opts.dryRun ? null : await pausedRunNotice(await ctx.db(), dagId);
        if (opts.output) {
          const runs = opts.dryRun
            ? plan.intervals.map((i) => ({
                dag_id: dagId,
                run_id: null,
                logical_date: iso(i.logicalDate),
                outcome: 'would_create',
              }))
            : [
                ...plan.created.map((r) => ({
                  dag_id: dagId,
                  run_id: r.run_id,
                  logical_date: iso(r.logical_date),
                  outcome: 'created',
                })),
                ...plan.existing.map((runId) => ({
                  dag_id: dagId,
                  run_id: runId,
                  logical_date: null,
                  outcome: opts.rerunFailedTasks ? 'exists_failed_cleared' : 'exists',
                })),
              ];
          printRows(runs, ['dag_id', 'run_id', 'logical_date', 'outcome'], opts.output);
          if (notice) process.stderr.write(`[INFO] ${notice}\n`);
          return;
        }
        if (opts.dryRun) {
          for (const i of plan.intervals)
            console.log(
              `Dry run of DAG ${dagId} on ${iso(i.logicalDate)} (data interval ${iso(i.dataInterval.start)} – ${iso(i.dataInterval.end)})`,
            );
          console.log(`${plan.intervals.length} run(s) would be created; nothing was changed.`);
          return;
        }
        for (const r of plan.created) console.log(`Created ${r.run_id}`);
        for (const r of plan.existing)
          console.log(`Exists ${r}${opts.rerunFailedTasks ? ' (failed tasks cleared)' : ''}`);
        console.log(
          `${plan.created.length} backfill run(s) created; the scheduler runs them (up to the DAG's maxActiveRuns at a time).`,
        );
        if (notice) console.log(`[INFO] ${notice}`);
      },
    );

  dags
    .command('delete <dag_id>')
    .description('Delete every record of a DAG (runs, task instances, XComs); its file is kept')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (dagId: string, opts: { yes?: boolean }) => {
      if (!opts.yes && !(await confirm(`This deletes ALL metadata of DAG ${dagId}. Proceed? (y/n) `))) {
        console.log('Cancelled, nothing was deleted.');
        return;
      }
      const n = await deleteDag(await cli.context().db(), dagId);
      console.log(`Removed ${n} record(s) of DAG ${dagId}`);
    });
};
