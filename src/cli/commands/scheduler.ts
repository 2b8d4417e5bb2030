import { writeFileSync, rmSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { Scheduler } from '../../scheduler/scheduler.js';
import type { RegisterCommand } from '../command-kit.js';

export function parseIntArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`'${value}' is not a whole number`);
  return n;
}

/** Run until SIGINT/SIGTERM (or -n loops); a second signal is not needed: stop() drains and exits. */
export async function runUntilSignal<T>(start: () => Promise<T>, stop: () => void): Promise<T> {
  const onSignal = () => stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await start();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const registerScheduler: RegisterCommand = (program, cli) => {
  program
    .command('scheduler')
    .description(
      'Start a scheduler instance (runs the DAG processor too unless scheduler.standalone_dag_processor)',
    )
    .option(
      '-n, --num-runs <n>',
      'loops before exiting (-1: forever; default scheduler.num_runs)',
      parseIntArg,
    )
    .option('--pid <file>', 'write the process id to this file')
    .option('--no-dag-processor', 'do not parse DAG files in this process')
    .action(async (opts: { numRuns?: number; pid?: string; dagProcessor: boolean }) => {
      const ctx = cli.context();
      if (opts.pid) writeFileSync(opts.pid, `${process.pid}\n`);
      const scheduler = new Scheduler(ctx, {
        numRuns: opts.numRuns,
        env: cli.env,
        runDagProcessor: opts.dagProcessor ? undefined : false,
      });
      try {
        await runUntilSignal(
          () => scheduler.run(),
          () => scheduler.stop(),
        );
      } finally {
        if (opts.pid) rmSync(opts.pid, { force: true });
      }
    });
};
