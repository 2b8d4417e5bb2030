import type { Command } from 'commander';
import { processDagFolderOnce } from '../dag-processing/processor.js';
import { NotFoundError } from '../errors.js';
import type { CliEnv } from './command-kit.js';
import { migratedDb } from './metadata-store.js';

/**
 * The `dags` command group. Other modules add their subcommands (trigger, pause, …) to the same
 * group through `dagsCommand(program)`, which creates it on first use.
 */
export function dagsCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'dags') ?? program.command('dags').description('Manage DAGs')
  );
}

/** The `tasks` command group, shared the same way. */
export function tasksCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'tasks') ?? program.command('tasks').description('Manage tasks')
  );
}

/** Bring the DB up to date with the DAG files (what Airflow does by filling a DagBag). */
export async function parseDagsForCli(cli: CliEnv): Promise<void> {
  await migratedDb(cli);
  await processDagFolderOnce(cli.context());
}

/** Run `fn`; if the DAG is not in the DB yet, parse the DAG folder once and try again. */
export async function withDag<T>(cli: CliEnv, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof NotFoundError) || !/^DAG '/.test(error.message)) throw error;
    await parseDagsForCli(cli);
    return fn();
  }
}
