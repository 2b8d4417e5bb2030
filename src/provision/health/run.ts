import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, NotFoundError } from '../../errors.js';
import { gatherFacts } from '../engine/facts.js';
import { masker } from '../engine/run-log.js';
import { openTarget } from '../engine/run.js';
import type { ProvisionTarget } from '../engine/types.js';
import type { RemoteHost } from '../remote/types.js';
import { silentLog } from '../remote/types.js';
import type { Stack } from '../stack/schema.js';
import { secretValues, stackDir, type StackSecrets } from '../stack/secrets.js';
import { configChecks } from './checks/config.js';
import { hostChecks } from './checks/host.js';
import { databaseSession, mysqlChecks } from './checks/mysql.js';
import { redisChecks } from './checks/redis.js';
import { serviceChecks } from './checks/services.js';
import { overall, type Check, type CheckResult, type HealthContext, type HealthReport } from './types.js';

const GROUPS: [CheckResult['group'], Check][] = [
  ['host', hostChecks],
  ['redis', redisChecks],
  ['mysql', mysqlChecks],
  ['config', configChecks],
  ['services', serviceChecks],
];

/** The stack's stored secrets: health compares the node with them and never creates new ones. */
export async function readStackSecrets(stack: Stack, env: NodeJS.ProcessEnv): Promise<StackSecrets> {
  const path = join(stackDir(stack.name, env), 'secrets.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as StackSecrets;
  } catch {
    throw new NotFoundError(
      `No secrets for stack ${stack.name} at ${path}: was it provisioned from this machine? Run \`updraft provision\` first.`,
    );
  }
}

/** Run every check group at once over the one connection; a group that throws is one failed check, not a crash. */
export async function checkHost(ctx: HealthContext): Promise<CheckResult[]> {
  const groups = await Promise.all(
    GROUPS.map(async ([group, check]) => {
      try {
        return await check(ctx);
      } catch (e) {
        return [
          {
            id: `${group}.check`,
            group,
            status: 'fail',
            finding: `the ${group} checks could not run`,
            evidence: ctx.mask(errorMessage(e)),
          } satisfies CheckResult,
        ];
      }
    }),
  );
  return groups.flat();
}

export interface HealthOptions {
  env?: NodeJS.ProcessEnv;
  /** An already open host (repair reuses its connection). */
  host?: RemoteHost;
}

export async function runHealth(
  stack: Stack,
  target: ProvisionTarget,
  options: HealthOptions = {},
): Promise<HealthReport> {
  const env = options.env ?? process.env;
  const started = Date.now();
  const secrets = await readStackSecrets(stack, env);
  const mask = masker(secretValues(secrets));
  let host = options.host;
  try {
    host ??= await openTarget(target, silentLog, env);
  } catch (e) {
    const check: CheckResult = {
      id: 'host.ssh',
      group: 'host',
      status: 'fail',
      finding: 'cannot reach the host',
      evidence: mask(errorMessage(e)),
    };
    return {
      stack: stack.name,
      host: target.kind === 'ssh' ? `${target.user}@${target.address}` : 'local',
      os: 'unknown',
      checkedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      status: 'fail',
      checks: [check],
    };
  }
  const connectMs = Date.now() - started;
  let database: ReturnType<typeof databaseSession> | undefined;
  try {
    const factsStarted = Date.now();
    const facts = await gatherFacts(host);
    const factsMs = Date.now() - factsStarted;
    database = databaseSession({ host, facts, stack, secrets });
    const checks = await checkHost({
      host,
      facts,
      stack,
      secrets,
      mask,
      database: database.get,
      timings: { connectMs, factsMs },
    });
    return {
      stack: stack.name,
      host: host.label,
      os: facts.prettyName,
      checkedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      status: overall(checks),
      checks,
    };
  } finally {
    await database?.close().catch(() => {});
    if (!options.host) await host.close().catch(() => {});
  }
}

/** How long the checks after a repair wait for restarted services to come up. */
const SETTLE_MS = 45_000;
const SETTLE_POLL_MS = 2_000;

/**
 * The checks after a repair. Services the repair restarted need a few seconds before their units
 * are active, /health answers and a worker heartbeats: while a services check fails, check again
 * (every 2 s, up to 45 s) and report the last pass. Other failures are reported at once.
 */
export async function runHealthAfterRepair(
  stack: Stack,
  target: ProvisionTarget,
  options: HealthOptions = {},
): Promise<HealthReport> {
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    const report = await runHealth(stack, target, options);
    const settling = report.checks.some((c) => c.status === 'fail' && c.group === 'services');
    if (!settling || Date.now() + SETTLE_POLL_MS > until) return report;
    await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
  }
}
