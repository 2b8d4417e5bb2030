import { ConflictError, UsageError } from '../../errors.js';
import { provision } from '../engine/run.js';
import { plainReporter } from '../engine/reporters.js';
import type { ProvisionResult } from '../engine/types.js';
import type { Stack } from '../stack/schema.js';
import { renderChanges, renderOutputs, renderPlanHeader, estimateCost } from './present.js';
import { createAwsClients, type SessionOptions } from './session.js';
import { loadAwsStack, resolveStackRef, type AwsFlagOverrides } from './stack-file.js';
import {
  destroyStack,
  stackStatus,
  upInfrastructure,
  type StackOutputs,
  type UpResult,
} from './stack-ops.js';
import type { AwsSection } from './config.js';

/**
 * The actions behind `updraft up / status / outputs / destroy` (cli/commands/aws-stack.ts loads
 * this module only when one of them runs). Output: text on stdout, progress on stderr; with
 * --json, one JSON document on stdout and nothing else there.
 */
export interface UpFlags extends AwsFlagOverrides {
  stack: string;
  yes?: boolean;
  json?: boolean;
  dryRun?: boolean;
  /** false: stop after EC2 (`--no-provision`). */
  provision?: boolean;
}

export interface CommandIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Ask yes/no; undefined when there is no terminal to ask on. */
  confirm?: (question: string) => Promise<boolean>;
  session?: SessionOptions;
}

export function defaultIo(env: NodeJS.ProcessEnv): CommandIo {
  const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return {
    env,
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    ...(interactive
      ? {
          confirm: async (message: string) => {
            const { confirm } = await import('@inquirer/prompts');
            return confirm({ message, default: false });
          },
        }
      : {}),
  };
}

export interface UpReport {
  stack: string;
  dryRun: boolean;
  infrastructure: UpResult;
  cost: ReturnType<typeof estimateCost>;
  provision?: Pick<
    ProvisionResult,
    'ok' | 'changed' | 'url' | 'secretsPath' | 'logPath' | 'warnings' | 'error' | 'os' | 'durationMs'
  >;
  ok: boolean;
}

/** Exit code of a finished `up` whose provisioning step failed (the same as a remote error). */
export const PROVISION_FAILED_EXIT = 13;

export async function runUp(flags: UpFlags, io: CommandIo): Promise<number> {
  const loaded = await loadAwsStack(flags.stack, flags, io.env);
  return upLoaded(loaded.stack, loaded.aws, flags, io);
}

/** `up` for a stack already loaded (the wizard comes here after writing the file). */
export async function upLoaded(
  stack: Stack,
  aws: AwsSection,
  flags: Omit<UpFlags, 'stack'>,
  io: CommandIo,
): Promise<number> {
  const progress = (m: string) => io.err(`up | ${m}`);
  const session: SessionOptions = { log: progress, ...io.session };

  // The plan first, always from read-only calls (the dry-run clients refuse anything else).
  const planned = await upInfrastructure(
    stack.name,
    aws,
    createAwsClients(aws, { env: io.env, dryRun: true }),
    {
      ...session,
      log: () => {}, // the plan is printed whole below
      dryRun: true,
    },
  );
  const cost = estimateCost(aws);
  if (flags.dryRun) {
    if (flags.json)
      io.out(
        JSON.stringify({ stack: stack.name, dryRun: true, infrastructure: planned, cost, ok: true }, null, 2),
      );
    else
      io.out(
        [
          ...renderPlanHeader(stack.name, aws),
          '',
          'Plan (dry run, nothing was changed):',
          ...renderChanges(planned.changes),
        ].join('\n'),
      );
    return 0;
  }
  const pending = planned.changes.filter((c) => !['keep', 'use'].includes(c.action));
  if (!flags.yes && pending.length > 0) {
    if (!io.confirm) {
      throw new UsageError(
        'up would change AWS resources: pass --yes to proceed without a terminal (or --dry-run to see the plan)',
      );
    }
    io.err([...renderPlanHeader(stack.name, aws), '', 'Plan:', ...renderChanges(planned.changes)].join('\n'));
    if (!(await io.confirm('Create these resources?'))) {
      io.err('Nothing was changed.');
      return 0;
    }
  }

  const infrastructure = await upInfrastructure(
    stack.name,
    aws,
    createAwsClients(aws, { env: io.env }),
    session,
  );
  const report: UpReport = { stack: stack.name, dryRun: false, infrastructure, cost, ok: true };
  const outputs = infrastructure.outputs;

  if (flags.provision !== false) {
    if (!outputs.ssh?.host)
      throw new ConflictError(
        `instance ${outputs.instanceId ?? '?'} has no public IP to reach over SSH; set aws.ssh.host`,
      );
    progress(`provisioning ${outputs.ssh.user}@${outputs.ssh.host}:${outputs.ssh.port}`);
    const result = await provision(
      stack,
      {
        kind: 'ssh',
        address: outputs.ssh.host,
        port: outputs.ssh.port,
        user: outputs.ssh.user,
        keyFile: aws.keyPair.privateKeyFile,
      },
      // Progress to stderr in both modes: stdout carries only the final report.
      { yes: true, env: io.env, reporter: plainReporter((line) => io.err(line)) },
    );
    report.provision = {
      ok: result.ok,
      changed: result.changed,
      url: result.url,
      secretsPath: result.secretsPath,
      logPath: result.logPath,
      warnings: result.warnings,
      os: result.os,
      durationMs: result.durationMs,
      ...(result.error ? { error: result.error } : {}),
    };
    report.ok = result.ok;
  }

  if (flags.json) io.out(JSON.stringify(report, null, 2));
  else {
    io.out(
      [
        ...renderChanges(infrastructure.changes.filter((c) => c.action !== 'keep')),
        '',
        ...renderOutputs(outputs),
        ...(report.provision
          ? report.provision.ok
            ? [
                `  node          healthy, ${report.provision.changed} change(s); secrets in ${report.provision.secretsPath}`,
              ]
            : [
                `  node          provisioning FAILED: ${report.provision.error ?? ''} (log: ${report.provision.logPath}); \`updraft up\` again resumes`,
              ]
          : ['  node          not provisioned (--no-provision)']),
      ].join('\n'),
    );
  }
  return report.ok ? 0 : PROVISION_FAILED_EXIT;
}

export interface RefFlags extends AwsFlagOverrides {
  stack: string;
  json?: boolean;
}

async function statusOf(flags: RefFlags, io: CommandIo): Promise<StackOutputs> {
  const ref = await resolveStackRef(flags.stack, flags, io.env);
  const clients = createAwsClients(ref.aws, { env: io.env, dryRun: true });
  const full = ref.full?.aws;
  return stackStatus(ref.name, ref.region, clients, {
    ...(full
      ? {
          user: full.ssh.user,
          port: full.ssh.port,
          privateKeyFile: full.keyPair.privateKeyFile,
          webPort: full.webPort,
          ...(full.ssh.host ? { host: full.ssh.host } : {}),
        }
      : {}),
    ...(flags.sshHost ? { host: flags.sshHost } : {}),
  });
}

/** Exit code of `status` for a stack with nothing in AWS (scripts can tell "absent" from "error"). */
export const STACK_ABSENT_EXIT = 5;

export async function runStatus(flags: RefFlags, io: CommandIo): Promise<number> {
  const outputs = await statusOf(flags, io);
  io.out(flags.json ? JSON.stringify(outputs, null, 2) : renderOutputs(outputs).join('\n'));
  return outputs.exists ? 0 : STACK_ABSENT_EXIT;
}

/** `outputs`: the values a script needs, as JSON or KEY=value lines. */
export async function runOutputs(flags: RefFlags, io: CommandIo): Promise<number> {
  const o = await statusOf(flags, io);
  if (!o.exists) {
    io.err(`stack ${o.stack} has no resources in ${o.region}`);
    return STACK_ABSENT_EXIT;
  }
  const values = {
    instance_id: o.instanceId,
    state: o.state,
    public_ip: o.publicIp,
    public_dns: o.publicDns,
    private_ip: o.privateIp,
    url: o.url,
    ssh_host: o.ssh?.host,
    ssh_user: o.ssh?.user,
    ssh_port: o.ssh?.port,
    ssh_key: o.ssh?.privateKeyFile,
    ssh_command: o.ssh?.command,
  };
  if (flags.json) io.out(JSON.stringify(values, null, 2));
  else
    io.out(
      Object.entries(values)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join('\n'),
    );
  return 0;
}

export interface DestroyFlags extends RefFlags {
  yes?: boolean;
  dryRun?: boolean;
  /** true: delete the local key and secrets; false: keep them; undefined: ask (keep without a terminal). */
  deleteLocal?: boolean;
}

export async function runDestroy(flags: DestroyFlags, io: CommandIo): Promise<number> {
  const ref = await resolveStackRef(flags.stack, flags, io.env);
  const progress = (m: string) => io.err(`destroy | ${m}`);
  const session: SessionOptions = { log: progress, ...io.session };
  const planned = await destroyStack(
    ref.name,
    ref.aws,
    createAwsClients(ref.aws, { env: io.env, dryRun: true }),
    {
      ...session,
      log: () => {},
      dryRun: true,
      deleteLocal: flags.deleteLocal ?? false,
      env: io.env,
    },
  );
  const deletions = planned.changes.filter((c) => c.action === 'delete' && c.resource !== 'local-key');
  if (flags.dryRun) {
    if (flags.json) io.out(JSON.stringify({ stack: ref.name, ...planned }, null, 2));
    else
      io.out([`Would delete (dry run, nothing was changed):`, ...renderChanges(planned.changes)].join('\n'));
    return 0;
  }
  let deleteLocal = flags.deleteLocal;
  if (deletions.length > 0 && !flags.yes) {
    if (!io.confirm)
      throw new UsageError('destroy deletes AWS resources: pass --yes to proceed without a terminal');
    io.err([`Stack ${ref.name} in ${ref.region}:`, ...renderChanges(planned.changes)].join('\n'));
    if (!(await io.confirm(`Delete these ${deletions.length} resource(s) of stack ${ref.name}?`))) {
      io.err('Nothing was changed.');
      return 0;
    }
  }
  if (deleteLocal === undefined && planned.localFolder.exists && io.confirm && !flags.yes) {
    deleteLocal = await io.confirm(
      `Also delete ${planned.localFolder.path} (the stack's private key and secrets)?`,
    );
  }
  const result = await destroyStack(ref.name, ref.aws, createAwsClients(ref.aws, { env: io.env }), {
    ...session,
    deleteLocal: deleteLocal ?? false,
    env: io.env,
  });
  if (flags.json) io.out(JSON.stringify({ stack: ref.name, ...result }, null, 2));
  else {
    const lines = result.changes.length
      ? renderChanges(result.changes)
      : [`Stack ${ref.name} has no resources in ${ref.region}; nothing to delete.`];
    if (result.localFolder.exists)
      lines.push(`Kept ${result.localFolder.path} (private key and secrets); --delete-local removes it.`);
    io.out(lines.join('\n'));
  }
  return 0;
}
