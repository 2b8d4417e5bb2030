import { Option } from 'commander';
import { loadSerializedDag } from '../../../dag-processing/read.js';
import { renderTree } from '../../../dag-processing/render-graph.js';
import {
  jsonOption,
  recordOutputOption,
  type RecordOutputOpts,
  type RegisterCommand,
} from '../../command-kit.js';
import { printRows } from '../../output.js';
import { parseDagsForCli, tasksCommand } from '../../dag-access.js';
import { migratedDb } from '../../metadata-store.js';

export const registerTaskInspection: RegisterCommand = (program, cli) => {
  const tasks = tasksCommand(program);
  tasks
    .command('list <dag_id>')
    .description("List a DAG's tasks (in dependency order), or show them as a tree")
    .option('-t, --tree', 'show the tasks as a tree of dependencies')
    .addOption(new Option('--no-parse', 'do not parse DAG files first'))
    .addOption(recordOutputOption('the tasks as records'))
    .addOption(jsonOption())
    .action(async (dagId: string, opts: RecordOutputOpts & { tree?: boolean; parse: boolean }) => {
      if (opts.parse) await parseDagsForCli(cli);
      const dag = await loadSerializedDag(await migratedDb(cli), dagId);
      if (opts.output) {
        printRows(
          dag.tasks.map((t) => ({
            task_id: t.taskId,
            operator: t.operator,
            upstream: t.upstream,
            trigger_rule: t.triggerRule,
            retries: t.retries,
            pool: t.pool,
            queue: t.queue,
          })),
          ['task_id', 'operator', 'upstream', 'trigger_rule', 'retries', 'pool', 'queue'],
          opts.output,
        );
        return;
      }
      const text = opts.tree ? renderTree(dag) : dag.tasks.map((t) => t.taskId).join('\n');
      if (text) process.stdout.write(text + '\n');
    });
};
