import { Option } from 'commander';
import { NotFoundError } from '../../../errors.js';
import { loadSerializedDag } from '../../../dag-processing/read.js';
import { renderDot, renderMermaid, renderTree } from '../../../dag-processing/render-graph.js';
import {
  outputOption,
  jsonOption,
  type CliEnv,
  type OutputOpts,
  type RegisterCommand,
} from '../../command-kit.js';
import { printRows } from '../../output.js';
import { dagsCommand, parseDagsForCli } from '../../dag-access.js';
import { processDagFolderOnce } from '../../../dag-processing/processor.js';
import { migratedDb } from '../../metadata-store.js';

async function listDags(cli: CliEnv, opts: OutputOpts & { parse: boolean }): Promise<void> {
  if (opts.parse) await parseDagsForCli(cli);
  const db = await migratedDb(cli);
  const rows = await db
    .selectFrom('dag')
    .select(['dag_id', 'fileloc', 'owners', 'is_paused', 'schedule_interval'])
    .where('is_active', '=', 1)
    .orderBy('dag_id')
    .execute();
  printRows(
    rows.map((r) => ({
      dag_id: r.dag_id,
      fileloc: r.fileloc,
      owners: r.owners,
      is_paused: r.is_paused === 1,
      schedule: r.schedule_interval ?? 'None',
    })),
    ['dag_id', 'fileloc', 'owners', 'is_paused', 'schedule'],
    opts.output,
  );
}

export const registerDagInspection: RegisterCommand = (program, cli) => {
  const dags = dagsCommand(program);
  const noParse = () =>
    new Option('--no-parse', 'do not parse DAG files first; show what the metadata DB holds');

  dags
    .command('list')
    .description('List the DAGs (parses the DAG folder first)')
    .addOption(outputOption())
    .addOption(jsonOption())
    .addOption(noParse())
    .action((opts: OutputOpts & { parse: boolean }) => listDags(cli, opts));

  // Airflow 1.x spelling.
  program
    .command('list_dags')
    .description('List the DAGs (old spelling of `dags list`)')
    .addOption(outputOption())
    .addOption(jsonOption())
    .addOption(noParse())
    .action((opts: OutputOpts & { parse: boolean }) => listDags(cli, opts));

  dags
    .command('list-import-errors')
    .description('List the DAG files that failed to load, with their errors')
    .addOption(outputOption())
    .addOption(jsonOption())
    .addOption(noParse())
    .action(async (opts: OutputOpts & { parse: boolean }) => {
      if (opts.parse) await parseDagsForCli(cli);
      const db = await migratedDb(cli);
      const rows = await db
        .selectFrom('import_error')
        .select(['filename', 'stacktrace', 'timestamp'])
        .orderBy('filename')
        .execute();
      printRows(
        rows.map((r) => ({
          filepath: r.filename,
          error: r.stacktrace,
          timestamp: new Date(Number(r.timestamp)).toISOString(),
        })),
        ['filepath', 'error'],
        opts.output,
      );
    });

  dags
    .command('show <dag_id>')
    .description('Show the task graph of a DAG as a text tree, Graphviz DOT or Mermaid')
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'dot', 'mermaid']).default('text'),
    )
    .addOption(noParse())
    .action(async (dagId: string, opts: { format: 'text' | 'dot' | 'mermaid'; parse: boolean }) => {
      if (opts.parse) await parseDagsForCli(cli);
      const dag = await loadSerializedDag(await migratedDb(cli), dagId);
      const text =
        opts.format === 'dot'
          ? renderDot(dag)
          : opts.format === 'mermaid'
            ? renderMermaid(dag)
            : renderTree(dag);
      process.stdout.write(text + '\n');
    });

  dags
    .command('details <dag_id>')
    .description('Show the properties of a DAG')
    .addOption(outputOption())
    .addOption(jsonOption())
    .addOption(noParse())
    .action(async (dagId: string, opts: OutputOpts & { parse: boolean }) => {
      if (opts.parse) await parseDagsForCli(cli);
      const db = await migratedDb(cli);
      const row = await db.selectFrom('dag').selectAll().where('dag_id', '=', dagId).executeTakeFirst();
      if (!row) throw new NotFoundError(`DAG '${dagId}' not found`);
      const ser = await loadSerializedDag(db, dagId).catch(() => null);
      const tags = (
        await db.selectFrom('dag_tag').select('name').where('dag_id', '=', dagId).orderBy('name').execute()
      ).map((t) => t.name);
      const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
      const details: Record<string, unknown> = {
        dag_id: row.dag_id,
        fileloc: row.fileloc,
        owners: row.owners,
        description: row.description,
        is_paused: row.is_paused === 1,
        is_active: row.is_active === 1,
        has_import_errors: row.has_import_errors === 1,
        schedule_interval: row.schedule_interval,
        timetable_description: row.timetable_description,
        tags,
        max_active_runs: row.max_active_runs,
        max_active_tasks: row.max_active_tasks,
        last_parsed_time: iso(row.last_parsed_time),
        next_dagrun: iso(row.next_dagrun),
        next_dagrun_data_interval_start: iso(row.next_dagrun_data_interval_start),
        next_dagrun_data_interval_end: iso(row.next_dagrun_data_interval_end),
        start_date: ser?.startDate ?? null,
        end_date: ser?.endDate ?? null,
        catchup: ser?.catchup ?? null,
        timezone: ser?.timezone ?? null,
        dagrun_timeout_ms: ser?.dagrunTimeoutMs ?? null,
        params: ser?.params ?? {},
        doc_md: ser?.docMd ?? null,
        task_count: ser?.tasks.length ?? 0,
      };
      if (opts.output === 'table' || opts.output === 'plain') {
        printRows(
          Object.entries(details).map(([property, value]) => ({ property, value })),
          ['property', 'value'],
          opts.output,
        );
      } else {
        printRows([details], Object.keys(details), opts.output);
      }
    });

  dags
    .command('reserialize')
    .description('Parse every DAG file again and rewrite the serialized DAGs')
    .action(async () => {
      await migratedDb(cli);
      const stats = await processDagFolderOnce(cli.context(), { force: true });
      console.log(
        `Reserialized ${stats.dags} DAGs from ${stats.filesParsed} files (${stats.serializedWrites} changed, ${stats.importErrors} import errors).`,
      );
    });
};
