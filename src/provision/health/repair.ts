import { REDIS_LAYOUT } from '../playbooks/redis.js';
import { provision } from '../engine/run.js';
import type { ProgressReporter, ProvisionResult } from '../engine/types.js';
import type { HostFacts } from '../engine/facts.js';
import { sq } from '../remote/shell.js';
import type { RemoteHost } from '../remote/types.js';
import type { Stack } from '../stack/schema.js';
import type { CheckResult, FixId, HealthReport } from './types.js';

/** What one fix does: playbook steps re-applied (they change only what drifted) and commands the playbooks cannot express. */
interface FixPlan {
  steps: string[];
  /** Run before the steps (e.g. put a unit override aside so the unit can start). */
  before: { summary: string; command: string }[];
  /** Run after the steps (e.g. restart Redis so a password changed at run time is reset to the file's). */
  after: { summary: string; command: string }[];
}

export interface RepairPlan {
  /** Fixes in the order they run, with the checks each addresses. */
  fixes: { fix: FixId; checks: string[]; steps: string[]; actions: string[] }[];
  /** Failures repair cannot fix, each with the next step for a person. */
  manual: { check: string; finding: string; next: string }[];
  steps: string[];
  before: { summary: string; command: string }[];
  after: { summary: string; command: string }[];
}

const FIX_ORDER: FixId[] = [
  'redis-service',
  'redis-config',
  'database-service',
  'database-user',
  'database-grants',
  'config',
  'schema',
  'unit-overrides',
  'units',
];
const STEP_ORDER = ['redis', 'database-server', 'database', 'config', 'services'];

function unitOf(check: CheckResult): string | undefined {
  return check.id.startsWith('services.updraft-') ? check.id.slice('services.'.length) : undefined;
}

function planFix(fix: FixId, checks: CheckResult[], facts: HostFacts): FixPlan {
  const redis = REDIS_LAYOUT[facts.family].service;
  switch (fix) {
    case 'redis-service':
      return { steps: ['redis'], before: [], after: [] };
    case 'redis-config':
      // A password set with CONFIG SET lives only in memory: a restart brings back the file's (the
      // stack's). It goes first, so the services step restarts the units against a broker that
      // takes the stack's password.
      return {
        steps: ['redis'],
        before: [
          {
            summary: `restart ${redis} so it runs with the stack's configuration`,
            command: `systemctl restart ${sq(redis)}`,
          },
        ],
        after: [],
      };
    case 'database-service':
      return { steps: ['database-server'], before: [], after: [] };
    case 'database-user':
    case 'database-grants':
      return { steps: ['database'], before: [], after: [] };
    case 'config':
    case 'schema':
      // The services step restarts the units whose configuration the config step rewrote.
      return { steps: ['config', 'services'], before: [], after: [] };
    case 'units': {
      const units = checks.map(unitOf).filter((u): u is string => !!u);
      return {
        steps: ['services'],
        before: units.map((u) => ({
          summary: `clear ${u}'s failed state and restart counter`,
          command: `systemctl reset-failed ${sq(u)} || true`,
        })),
        after: [],
      };
    }
    case 'unit-overrides': {
      const units = checks.map(unitOf).filter((u): u is string => !!u);
      return {
        steps: ['services'],
        before: units.map((u) => ({
          summary: `put local overrides of ${u} aside (renamed *.conf.updraft-disabled, not deleted) and clear its failed state`,
          command: `for f in /etc/systemd/system/${u}.service.d/*.conf; do [ -e "$f" ] && mv "$f" "$f.updraft-disabled"; done; systemctl daemon-reload; systemctl reset-failed ${sq(u)} || true`,
        })),
        after: [],
      };
    }
  }
}

function manualStep(check: CheckResult): string {
  if (check.id === 'host.ssh') return 'check the address, security group and key, then run health again';
  if (check.id === 'host.clock')
    return 'enable time synchronisation on the host (chronyd or systemd-timesyncd)';
  if (check.id === 'host.disk') return 'free disk space (old task logs, package caches) or grow the volume';
  return 'read the evidence above; if the host is beyond repair, provision a new one from the same stack';
}

/** Map each failed check to its fix. Only failures are repaired; warnings are reported, never acted on. */
export function planRepair(report: HealthReport, facts: HostFacts): RepairPlan {
  const failed = report.checks.filter((c) => c.status === 'fail');
  const byFix = new Map<FixId, CheckResult[]>();
  const manual: RepairPlan['manual'] = [];
  for (const c of failed) {
    if (!c.fix) manual.push({ check: c.id, finding: c.finding, next: manualStep(c) });
    else byFix.set(c.fix, [...(byFix.get(c.fix) ?? []), c]);
  }
  const plan: RepairPlan = { fixes: [], manual, steps: [], before: [], after: [] };
  const steps = new Set<string>();
  for (const fix of FIX_ORDER) {
    const checks = byFix.get(fix);
    if (!checks) continue;
    const p = planFix(fix, checks, facts);
    p.steps.forEach((s) => steps.add(s));
    plan.before.push(...p.before);
    plan.after.push(...p.after);
    plan.fixes.push({
      fix,
      checks: checks.map((c) => c.id),
      steps: p.steps,
      actions: [...p.before, ...p.after].map((a) => a.summary),
    });
  }
  plan.steps = STEP_ORDER.filter((s) => steps.has(s));
  return plan;
}

export interface ApplyRepairOptions {
  env?: NodeJS.ProcessEnv;
  reporter?: ProgressReporter;
}

/** Apply a repair plan on an open host; the engine re-applies the steps (in apply mode, never deleting data). */
export async function applyRepair(
  stack: Stack,
  host: RemoteHost,
  plan: RepairPlan,
  options: ApplyRepairOptions = {},
): Promise<ProvisionResult | null> {
  for (const a of plan.before) await host.exec(a.command);
  let result: ProvisionResult | null = null;
  if (plan.steps.length > 0) {
    result = await provision(
      stack,
      { kind: 'host', host },
      {
        only: plan.steps,
        yes: true,
        ...(options.env ? { env: options.env } : {}),
        ...(options.reporter ? { reporter: options.reporter } : {}),
      },
    );
  }
  for (const a of plan.after) await host.exec(a.command);
  return result;
}
