import { basename } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { sq } from '../remote/shell.js';
import type { ChangeReport } from './types.js';
import type { RunContext } from './context.js';
import type { PackageManager } from './facts.js';

/**
 * A resource is one piece of desired state. check() looks (read-only) and says what it would
 * change, or null when the host already matches; apply() makes the change. Every apply is safe to
 * repeat, so a run cut anywhere converges when run again.
 */
export interface Resource {
  id: string;
  check(ctx: RunContext): Promise<ChangeReport | null>;
  apply(ctx: RunContext): Promise<void>;
}

/** Services whose restart is owed: a marker per service, written before the file that needs it. */
export const PENDING_DIR = '/var/lib/updraft/pending-restart';

function markPending(services: readonly string[]): string {
  if (!services.length) return 'true';
  return `mkdir -p ${PENDING_DIR} && touch ${services.map((s) => sq(`${PENDING_DIR}/${s}`)).join(' ')}`;
}

// ---------------------------------------------------------------- packages

export interface PackagesSpec {
  manager: PackageManager;
  names: string[];
  /** Install with this command instead of the manager's (amazon-linux-extras). */
  installCommand?: string;
  /** Packages that must be installed (rpm -q / dpkg) to count as done; default: names. */
  probe?: string[];
}

export function probePackagesCommand(manager: PackageManager, names: string[]): string {
  return manager === 'apt'
    ? `dpkg-query -W -f='\${Package} \${db:Status-Abbrev}\\n' ${names.join(' ')} 2>/dev/null; true`
    : `rpm -q ${names.join(' ')} 2>/dev/null; true`;
}

export function missingFromProbe(manager: PackageManager, names: string[], output: string): string[] {
  const lines = output.split('\n');
  if (manager === 'apt') {
    const installed = new Set(lines.filter((l) => /^\S+ ii/.test(l)).map((l) => l.split(' ')[0]));
    return names.filter((n) => !installed.has(n));
  }
  return names.filter(
    (n) =>
      lines.some((l) => l.includes(`package ${n} is not installed`)) ||
      !lines.some((l) => l.startsWith(`${n}-`)),
  );
}

export function installPackagesCommand(manager: PackageManager, names: string[]): string {
  switch (manager) {
    case 'apt':
      // Refresh the lists when they are older than a day (or missing), then install without questions.
      return (
        `if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mtime -1 2>/dev/null | head -1)" ]; then apt-get update -q; fi && ` +
        `DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold ${names.join(' ')}`
      );
    case 'yum':
      return `yum install -y ${names.join(' ')}`;
    case 'dnf':
      return `dnf install -y ${names.join(' ')}`;
  }
}

export function packages(spec: PackagesSpec): Resource {
  const probe = spec.probe ?? spec.names;
  let missing: string[] = [];
  return {
    id: `packages:${spec.names.join(',')}`,
    async check(ctx) {
      const r = await ctx.host.exec(probePackagesCommand(spec.manager, probe), { quiet: true });
      missing = missingFromProbe(spec.manager, probe, r.stdout);
      if (!missing.length) return null;
      return { resource: `packages ${spec.names.join(' ')}`, summary: `install ${missing.join(' ')}` };
    },
    async apply(ctx) {
      await ctx.host.exec(spec.installCommand ?? installPackagesCommand(spec.manager, spec.names));
    },
  };
}

// ---------------------------------------------------------------- files

export interface FileSpec {
  path: string;
  content: string;
  mode: number;
  owner: string;
  group: string;
  /** Services to restart when this file changes. */
  notify?: string[];
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

export function file(spec: FileSpec): Resource {
  return {
    id: `file:${spec.path}`,
    async check(ctx) {
      const current = await ctx.host.readFile(spec.path);
      const parts: string[] = [];
      let diff: string | undefined;
      if (current === null) parts.push(`create (${octal(spec.mode)} ${spec.owner}:${spec.group})`);
      else {
        if (current !== spec.content) {
          parts.push('update content');
        }
        const st = await ctx.host.exec(`stat -c '%a %U %G' ${sq(spec.path)}`, { quiet: true });
        const [mode, owner, group] = st.stdout.trim().split(' ');
        if (parseInt(mode ?? '0', 8) !== spec.mode) parts.push(`mode ${mode} -> ${octal(spec.mode)}`);
        if (owner !== spec.owner || group !== spec.group)
          parts.push(`owner ${owner}:${group} -> ${spec.owner}:${spec.group}`);
      }
      if (current !== spec.content) {
        diff = createTwoFilesPatch(
          spec.path,
          spec.path,
          ctx.mask(current ?? ''),
          ctx.mask(spec.content),
          current === null ? '(absent)' : 'current',
          'desired',
        );
      }
      if (!parts.length) return null;
      return { resource: spec.path, summary: parts.join(', '), ...(diff ? { diff } : {}) };
    },
    async apply(ctx) {
      const staging = await ctx.host.stagingDir();
      const staged = `${staging}/${basename(spec.path)}.${Date.now()}`;
      await ctx.host.writeFile(staged, spec.content);
      // install(1) writes a new file and renames it over the old one: never a half-written target.
      await ctx.host.exec(
        `${markPending(spec.notify ?? [])} && install -D -m ${octal(spec.mode)} -o ${sq(spec.owner)} -g ${sq(spec.group)} ${sq(staged)} ${sq(spec.path)} && rm -f ${sq(staged)}`,
      );
    },
  };
}

export interface DirectorySpec {
  path: string;
  mode: number;
  owner: string;
  group: string;
}

export function directory(spec: DirectorySpec): Resource {
  return {
    id: `dir:${spec.path}`,
    async check(ctx) {
      const st = await ctx.host.exec(`stat -c '%F %a %U %G' ${sq(spec.path)}`, {
        quiet: true,
        allowFailure: true,
      });
      if (st.code !== 0)
        return {
          resource: spec.path,
          summary: `create directory (${octal(spec.mode)} ${spec.owner}:${spec.group})`,
        };
      const [, mode, owner, group] = st.stdout.trim().replace('directory', 'directory').split(' ');
      if (parseInt(mode ?? '0', 8) === spec.mode && owner === spec.owner && group === spec.group) return null;
      return {
        resource: spec.path,
        summary: `set ${octal(spec.mode)} ${spec.owner}:${spec.group} (was ${mode} ${owner}:${group})`,
      };
    },
    async apply(ctx) {
      await ctx.host.exec(
        `install -d -m ${octal(spec.mode)} -o ${sq(spec.owner)} -g ${sq(spec.group)} ${sq(spec.path)}`,
      );
    },
  };
}

// ---------------------------------------------------------------- commands

export interface CommandSpec {
  id: string;
  /** What the plan says, e.g. "create database airflow". */
  summary: string;
  /** Read-only probe: exit 0 means already done. */
  unless: string;
  unlessInput?: string;
  run: string;
  /** stdin of run (carries secrets: SQL with passwords, scripts). */
  input?: string;
  notify?: string[];
}

export function command(spec: CommandSpec): Resource {
  return {
    id: `command:${spec.id}`,
    async check(ctx) {
      const r = await ctx.host.exec(spec.unless, {
        allowFailure: true,
        quiet: true,
        ...(spec.unlessInput ? { input: spec.unlessInput } : {}),
      });
      return r.code === 0 ? null : { resource: spec.id, summary: spec.summary };
    },
    async apply(ctx) {
      const notify = spec.notify ?? [];
      if (notify.length) await ctx.host.exec(markPending(notify));
      await ctx.host.exec(spec.run, {
        quiet: spec.input !== undefined,
        ...(spec.input !== undefined ? { input: spec.input } : {}),
      });
    },
  };
}

/** A resource with hand-written check and apply (uploads, health gates). */
export function custom(id: string, check: Resource['check'], apply: Resource['apply']): Resource {
  return { id, check, apply };
}

// ---------------------------------------------------------------- services

export interface ServiceSpec {
  name: string;
  /** Reload systemd first (a unit file of this run changed). */
  daemonReload?: boolean;
}

/** Enabled at boot and running; restarted when a marker says a file it reads changed. */
export function service(spec: ServiceSpec): Resource {
  const marker = `${PENDING_DIR}/${spec.name}`;
  let state = { enabled: false, active: false, pending: false };
  return {
    id: `service:${spec.name}`,
    async check(ctx) {
      const r = await ctx.host.exec(
        `echo "$(systemctl is-enabled ${sq(spec.name)} 2>/dev/null)" "$(systemctl is-active ${sq(spec.name)} 2>/dev/null)" "$(test -e ${sq(marker)} && echo pending || echo none)"`,
        { quiet: true },
      );
      const [enabled, active, pending] = r.stdout.trim().split(' ');
      state = { enabled: enabled === 'enabled', active: active === 'active', pending: pending === 'pending' };
      const todo: string[] = [];
      if (!state.enabled) todo.push('enable at boot');
      if (!state.active) todo.push('start');
      else if (state.pending) todo.push('restart (its configuration changed)');
      if (!todo.length) return null;
      return { resource: `service ${spec.name}`, summary: todo.join(', ') };
    },
    async apply(ctx) {
      const steps: string[] = [];
      if (spec.daemonReload) steps.push('systemctl daemon-reload');
      if (!state.enabled) steps.push(`systemctl enable ${sq(spec.name)}`);
      steps.push(
        state.active && state.pending
          ? `systemctl restart ${sq(spec.name)}`
          : state.active
            ? 'true'
            : `systemctl restart ${sq(spec.name)}`,
      );
      steps.push(`rm -f ${sq(marker)}`);
      await ctx.host.exec(steps.join(' && '));
    },
  };
}
