import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { errorMessage, isUpdraftError } from '../errors.js';
import { createCliEnv, type RegisterCommand } from './command-kit.js';
import { EXIT_CODES } from './exit-codes.js';
import { toolkitCommands } from './commands/toolkit.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(
  register: RegisterCommand[],
  env: NodeJS.ProcessEnv,
  makeContext?: Parameters<typeof createCliEnv>[1],
): { program: Command; dispose: () => Promise<void> } {
  const cli = createCliEnv(env, makeContext);
  const program = new Command('updraft')
    .description('Updraft: a workflow orchestrator for TypeScript, in the shape Apache Airflow users know.')
    .version(version, '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .command('version')
    .description('Show the version')
    .action(() => console.log(version));
  for (const r of register) r(program, cli);
  // Every subcommand inherits exitOverride so that errors come back here, not process.exit().
  const applyOverride = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(applyOverride);
  };
  applyOverride(program);
  return { program, dispose: () => cli.dispose() };
}

/**
 * The program for argv: a toolkit command (provision, health, …) gets a program of the toolkit's
 * commands alone, which loads nothing of the orchestrator; anything else (help included) gets every
 * command.
 */
async function programFor(argv: string[], env: NodeJS.ProcessEnv): Promise<ReturnType<typeof buildProgram>> {
  const toolkit = buildProgram(toolkitCommands, env);
  const name = argv[2];
  if (name && toolkit.program.commands.some((c) => c.name() !== 'version' && c.name() === name))
    return toolkit;
  const [{ orchestratorCommands }, { createContext }] = await Promise.all([
    import('./commands/index.js'),
    import('../context.js'),
  ]);
  return buildProgram([...orchestratorCommands, ...toolkitCommands], env, createContext);
}

/** Run the CLI; returns the exit code. The one place where errors become exit codes. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { program, dispose } = await programFor(argv, env);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are "errors" to commander, with exit code 0.
      return error.exitCode === 0 ? 0 : EXIT_CODES.usage;
    }
    if (isUpdraftError(error)) {
      process.stderr.write(`Error: ${error.message}\n`);
      return EXIT_CODES[error.kind];
    }
    process.stderr.write(`Error: ${errorMessage(error)}\n`);
    if (env.UPDRAFT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return EXIT_CODES.internal;
  } finally {
    await dispose();
  }
}
