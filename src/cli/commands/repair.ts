import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { RegisterCommand } from '../command-kit.js';
import { addTargetOptions, type NodeTargetFlags } from './node-target.js';

interface RepairFlags {
  check?: boolean;
  yes?: boolean;
  json?: boolean;
}

/**
 * `updraft repair`: run the health checks, map each failure to its fix, show the plan, apply it
 * (not with --check), check again and report before and after. Exit codes as `health`'s, for the
 * state after the repair.
 */
export const registerRepair: RegisterCommand = (program: Command, cli) => {
  addTargetOptions(
    program
      .command('repair')
      .description('Fix what `health` finds failing on a provisioned node; never deletes data'),
  )
    .option('--check', 'show the repair plan, change nothing')
    .option('--yes', 'apply without asking')
    .option('--json', 'print before, plan and after as JSON')
    .action(async (flags: RepairFlags & NodeTargetFlags) => {
      const { resolveStack, targetOf } = await import('../../provision/stack/resolve.js');
      const { runHealth, runHealthAfterRepair } = await import('../../provision/health/run.js');
      const { planRepair, applyRepair } = await import('../../provision/health/repair.js');
      const { renderReport, renderRepairPlan } = await import('../../provision/health/render.js');
      const { healthExitCode } = await import('../../provision/health/types.js');
      const { openTarget } = await import('../../provision/engine/run.js');
      const { gatherFacts } = await import('../../provision/engine/facts.js');
      const { silentLog } = await import('../../provision/remote/types.js');
      const p = await import('../../provision/index.js');
      const stack = await resolveStack(flags, cli.env);
      const host = await openTarget(targetOf(stack), silentLog, cli.env);
      const say = (text: string) => {
        if (!flags.json) process.stdout.write(`${text}\n`);
      };
      try {
        const facts = await gatherFacts(host);
        const before = await runHealth(stack, targetOf(stack), { env: cli.env, host });
        say(renderReport(before));
        const plan = planRepair(before, facts);
        say(`\nRepair plan:\n${renderRepairPlan(plan)}`);
        if (flags.check || plan.fixes.length === 0) {
          if (flags.json) process.stdout.write(`${JSON.stringify({ before, plan, applied: false })}\n`);
          process.exitCode = healthExitCode(before.status);
          return;
        }
        if (!flags.yes) {
          if (!process.stdin.isTTY)
            throw new UsageError(
              'repair changes the node: give --yes to apply without a terminal, or --check to see the plan',
            );
          const inquirer = (await import('inquirer')).default;
          const { apply } = await inquirer.prompt<{ apply: boolean }>([
            { type: 'confirm', name: 'apply', message: 'Apply this repair?', default: true },
          ]);
          if (!apply) return;
        }
        const reporter = flags.json ? undefined : p.plainReporter();
        const result = await applyRepair(stack, host, plan, {
          env: cli.env,
          ...(reporter ? { reporter } : {}),
        });
        const after = await runHealthAfterRepair(stack, targetOf(stack), { env: cli.env, host });
        say(`\nAfter repair:\n${renderReport(after)}`);
        if (result && !result.ok)
          say(`The repair run stopped: ${result.error ?? 'see its log'} (log: ${result.logPath})`);
        if (flags.json)
          process.stdout.write(`${JSON.stringify({ before, plan, applied: true, run: result, after })}\n`);
        process.exitCode = healthExitCode(after.status);
      } finally {
        await host.close().catch(() => {});
      }
    });
};
