import { join } from 'node:path';
import { errorMessage, ValidationError } from '../../errors.js';
import { buildPlan } from '../playbooks/index.js';
import { connectSsh } from '../remote/ssh.js';
import { localHost } from '../remote/local.js';
import type { CommandLog, RemoteHost } from '../remote/types.js';
import type { Stack } from '../stack/schema.js';
import {
  generateSecrets,
  loadOrCreateSecrets,
  secretValues,
  stackDir,
  toolHome,
  type StackSecrets,
} from '../stack/secrets.js';
import { operatorArtifacts } from './artifacts.js';
import type { RunContext } from './context.js';
import type { Resource } from './resources.js';
import { gatherFacts, type HostFacts } from './facts.js';
import { masker, RunLog } from './run-log.js';
import type {
  ChangeReport,
  ProgressReporter,
  ProvisionOptions,
  ProvisionResult,
  ProvisionTarget,
  StepReport,
} from './types.js';
import { readFile } from 'node:fs/promises';

const quietReporter: ProgressReporter = {
  runStarted() {},
  stepStarted() {},
  stepFinished() {},
  warn() {},
  runFinished() {},
};

/** Open the run's host (an SSH connection, this machine, or a host the caller opened). */
export async function openTarget(
  target: ProvisionTarget,
  log: CommandLog,
  env: NodeJS.ProcessEnv,
): Promise<RemoteHost> {
  switch (target.kind) {
    case 'host':
      return target.host;
    case 'local':
      return localHost(log);
    case 'ssh':
      return connectSsh({
        address: target.address,
        port: target.port,
        user: target.user,
        keyFile: target.keyFile,
        knownHostsFile: join(toolHome(env), 'known_hosts'),
        log,
        ...(target.connectDeadlineMs !== undefined ? { connectDeadlineMs: target.connectDeadlineMs } : {}),
      });
  }
}

/** Secrets for the run: the stored ones; in check mode a throwaway set when none are stored yet. */
async function secretsFor(
  stack: Stack,
  check: boolean,
  env: NodeJS.ProcessEnv,
): Promise<{ secrets: StackSecrets; path: string; created: boolean }> {
  const path = join(stackDir(stack.name, env), 'secrets.json');
  if (check) {
    try {
      return { secrets: JSON.parse(await readFile(path, 'utf8')) as StackSecrets, path, created: false };
    } catch {
      return { secrets: generateSecrets(stack.airflow.admin.password), path, created: false };
    }
  }
  return loadOrCreateSecrets(stack.name, stack.airflow.admin.password, env);
}

export function osWarnings(facts: HostFacts, stack: Stack): string[] {
  const w: string[] = [];
  if (facts.family === 'al2') {
    w.push(
      'Amazon Linux 2 reached end of support on 2026-06-30 and MySQL 5.7 in October 2023 (no security fixes). ' +
        'Prefer the current profile: Amazon Linux 2023 with MySQL 8.4 LTS (`--profile current`, a new host).',
    );
  }
  if (stack.profile === 'legacy' && facts.family !== 'al2') {
    w.push(
      `Profile legacy describes Amazon Linux 2 + MySQL 5.7; this host is ${facts.prettyName}, so its own packages are used.`,
    );
  }
  return w;
}

const PRECHECK_CONCURRENCY = 4;

/** Start every resource's check with at most PRECHECK_CONCURRENCY in flight (sshd allows 10 sessions per connection, and SFTP holds one). */
function precheckAll(resources: Resource[], ctx: RunContext): Map<Resource, Promise<ChangeReport | null>> {
  const results = new Map<Resource, Promise<ChangeReport | null>>();
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= PRECHECK_CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  for (const r of resources) {
    const p = slot().then(() => r.check(ctx).finally(release));
    p.catch(() => {}); // a check nobody awaits (the run stopped or re-checked) must not crash the process
    results.set(r, p);
  }
  return results;
}

/** Converge one host to the stack; in check mode, report what would change and change nothing. */
export async function provision(
  stack: Stack,
  target: ProvisionTarget,
  options: ProvisionOptions = {},
): Promise<ProvisionResult> {
  const env = options.env ?? process.env;
  const check = options.check ?? false;
  const reporter = options.reporter ?? quietReporter;
  const started = Date.now();
  const { secrets, path: secretsPath, created } = await secretsFor(stack, check, env);
  const mask = masker(secretValues(secrets));
  const log = new RunLog(join(stackDir(stack.name, env), 'logs'), mask);
  log.note(`${check ? 'check' : 'provision'} run for stack ${stack.name}`);
  const steps: StepReport[] = [];
  const warnings: string[] = [];
  let host: RemoteHost | undefined;
  let os = 'unknown';
  let url: string | null = null;
  let error: string | undefined;
  try {
    host = await openTarget(target, log, env);
    const facts = await gatherFacts(host);
    os = facts.family;
    for (const w of osWarnings(facts, stack)) {
      warnings.push(w);
      reporter.warn(w);
    }
    if (facts.family === 'al2' && !check && !options.yes && options.confirm) {
      if (!(await options.confirm('Provision this Amazon Linux 2 host with MySQL 5.7 anyway?'))) {
        throw new ValidationError(
          'Stopped before changing anything. Use a host with Amazon Linux 2023 (profile current), or pass --yes.',
        );
      }
    }
    const plan = buildPlan({ facts, stack, secrets }).filter(
      (step) => !options.only || options.only.includes(step.id),
    );
    const ctx: RunContext = {
      host,
      facts,
      stack,
      secrets,
      check,
      mask,
      artifacts:
        options.artifacts ??
        operatorArtifacts(
          join(toolHome(env), 'cache'),
          stack.node.version ?? process.versions.node,
          facts.arch,
        ),
    };
    reporter.runStarted({
      host: host.label,
      os: facts.prettyName,
      check,
      steps: plan.map((s) => ({ id: s.id, title: s.title })),
    });
    // Every check is read-only, so all of them start at once (a few at a time over the one
    // connection). Their answers stand until something is applied; from then on each resource is
    // checked afresh, in order, because it may depend on what came before it.
    const prechecks = precheckAll(
      plan.flatMap((s) => s.resources),
      ctx,
    );
    let applied = false;
    for (const step of plan) {
      reporter.stepStarted(step.id);
      const t0 = Date.now();
      const changes: ChangeReport[] = [];
      try {
        for (const resource of step.resources) {
          const change = applied ? await resource.check(ctx) : await prechecks.get(resource)!;
          if (!change) continue;
          changes.push(change);
          log.note(`${check ? 'would change' : 'changing'}: ${change.resource}: ${change.summary}`);
          if (!check) {
            applied = true;
            await resource.apply(ctx);
          }
        }
        if (!check && step.verify) await step.verify(ctx);
        const report: StepReport = {
          id: step.id,
          title: step.title,
          status: changes.length === 0 ? 'unchanged' : check ? 'would-change' : 'changed',
          durationMs: Date.now() - t0,
          changes,
        };
        steps.push(report);
        reporter.stepFinished(report);
      } catch (e) {
        const report: StepReport = {
          id: step.id,
          title: step.title,
          status: 'failed',
          durationMs: Date.now() - t0,
          changes,
          error: mask(errorMessage(e)),
        };
        steps.push(report);
        reporter.stepFinished(report);
        throw e;
      }
    }
    if (!check)
      url =
        stack.airflow.base_url ??
        `http://${target.kind === 'ssh' ? target.address : 'localhost'}:${stack.airflow.web_port}`;
  } catch (e) {
    error = mask(errorMessage(e));
    log.note(`run failed: ${error}`);
  } finally {
    if (host && target.kind !== 'host') await host.close().catch(() => {});
  }
  const result: ProvisionResult = {
    stack: stack.name,
    host: host?.label ?? (target.kind === 'ssh' ? `${target.user}@${target.address}` : 'local'),
    os,
    check,
    ok: error === undefined,
    changed: steps.reduce((n, s) => n + s.changes.length, 0),
    steps,
    durationMs: Date.now() - started,
    url,
    secretsPath,
    secretsCreated: created,
    logPath: log.path,
    warnings,
    ...(error !== undefined ? { error } : {}),
  };
  log.note(`finished: ${result.ok ? 'ok' : 'failed'}, ${result.changed} change(s), ${result.durationMs} ms`);
  await log.close();
  await reporter.runFinished(result);
  return result;
}
