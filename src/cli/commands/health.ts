import type { Command } from 'commander';
import type { RegisterCommand } from '../command-kit.js';
import { addTargetOptions, type NodeTargetFlags } from './node-target.js';

interface HealthFlags {
  json?: boolean;
  watch?: string | boolean;
}

/**
 * `updraft health`: is the node healthy? Exit 0 healthy, 1 warnings, 2 failures. The checks
 * (src/provision/health) are imported only when the command runs.
 */
export const registerHealth: RegisterCommand = (program: Command, cli) => {
  addTargetOptions(
    program
      .command('health')
      .description('Check a provisioned node: host, Redis, MySQL, airflow.cfg and services'),
  )
    .option('--json', 'print the report as JSON (for scripts)')
    .option('--watch [seconds]', 'check again every N seconds (default 10) until interrupted')
    .action(async (flags: HealthFlags & NodeTargetFlags) => {
      const { resolveStack, targetOf } = await import('../../provision/stack/resolve.js');
      const { runHealth } = await import('../../provision/health/run.js');
      const { renderReport } = await import('../../provision/health/render.js');
      const { healthExitCode } = await import('../../provision/health/types.js');
      const stack = await resolveStack(flags, cli.env);
      const target = targetOf(stack);
      const interval = flags.watch === undefined ? 0 : Number(flags.watch === true ? 10 : flags.watch) * 1000;
      for (;;) {
        const report = await runHealth(stack, target, { env: cli.env });
        process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${renderReport(report)}\n`);
        process.exitCode = healthExitCode(report.status);
        if (!interval) return;
        await new Promise((r) => setTimeout(r, interval));
        if (!flags.json) process.stdout.write('\n');
      }
    });
};
