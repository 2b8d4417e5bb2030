import { Option, type Command } from 'commander';
import type { AppContext, createContext } from '../context.js';
import { OUTPUT_FORMATS, type OutputFormat } from './output.js';

/**
 * Shared plumbing for command modules: a lazily built AppContext (so `--help` touches nothing)
 * and the `-o/--output` option every listing command takes.
 */
export interface CliEnv {
  context(): AppContext;
  /** Close what the context opened; main() calls it after every command. */
  dispose(): Promise<void>;
  env: NodeJS.ProcessEnv;
}

/**
 * makeContext is createContext, passed in by main() so that commands which never use the context
 * (the provisioning toolkit's) start without loading the orchestrator and its database layer.
 */
export function createCliEnv(env: NodeJS.ProcessEnv, makeContext?: typeof createContext): CliEnv {
  let ctx: AppContext | undefined;
  return {
    env,
    context() {
      if (!makeContext)
        throw new Error('internal: this command was registered without the orchestrator context');
      ctx ??= makeContext({ env, onWarning: (m) => process.stderr.write(`WARNING: ${m}\n`) });
      return ctx;
    },
    async dispose() {
      await ctx?.close();
    },
  };
}

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

/**
 * `-o/--output` for a command whose usual output is Airflow's message (`dags trigger`, `tasks
 * state`…): without the option it prints that message, as Airflow does; with it, the record.
 */
export function recordOutputOption(what: string): Option {
  return new Option('-o, --output <format>', `print ${what} in this format`).choices(OUTPUT_FORMATS);
}

/** `--json`: the scripting shorthand for `-o json` that every listing command also takes. */
export function jsonOption(): Option {
  return new Option('--json', 'shorthand for --output json').implies({ output: 'json' });
}

export type OutputOpts = { output: OutputFormat };
/** The options of a command that takes recordOutputOption(). */
export type RecordOutputOpts = { output?: OutputFormat };

/** A command module adds its subcommands to the program. */
export type RegisterCommand = (program: Command, cli: CliEnv) => void;
