import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { RegisterCommand } from '../command-kit.js';

interface ProvisionFlags {
  host?: string;
  port?: string;
  user?: string;
  key?: string;
  profile?: string;
  stack?: string;
  name?: string;
  target?: string;
  check?: boolean;
  yes?: boolean;
  json?: boolean;
}

/**
 * `updraft provision`: converge a host into a running node. The engine (ssh2, playbooks) is
 * imported only when the command runs, so no other process ever loads it.
 */
export const registerProvision: RegisterCommand = (program: Command, cli) => {
  program
    .command('provision')
    .description(
      'Install and configure Redis, MySQL/MariaDB, Node.js and Updraft on a host over SSH (or this machine)',
    )
    .option('--host <host>', 'address of the host')
    .option('--port <port>', 'SSH port (default 22)')
    .option('--user <user>', 'SSH user (root, or a sudoer such as ec2-user, admin, ubuntu)')
    .option('--key <file>', 'private key file for SSH')
    .addOption(
      new Option(
        '--profile <name>',
        'current: Amazon Linux 2023 + MySQL 8.4; legacy: Amazon Linux 2 + MySQL 5.7',
      ).choices(['current', 'legacy']),
    )
    .option('--stack <file>', 'stack file (YAML) with every choice; flags override it')
    .option('--name <name>', 'stack name (secrets live under ~/.updraft/stacks/NAME)')
    .addOption(
      new Option('--target <kind>', 'local: converge this machine instead of an SSH host').choices([
        'ssh',
        'local',
      ]),
    )
    .option('--check', 'show what would change, with diffs; change nothing')
    .option('--yes', 'do not ask before proceeding')
    .option('--json', 'print the result as JSON (for scripts)')
    .action(async (flags: ProvisionFlags) => {
      const p = await import('../../provision/index.js');
      const base = flags.stack ? await p.loadStackFile(flags.stack) : p.defaultStack();
      const port = flags.port === undefined ? undefined : Number(flags.port);
      if (port !== undefined && !Number.isInteger(port))
        throw new UsageError(`--port: must be an integer (got ${flags.port})`);
      const stack = p.applyOverrides(base, {
        ...(flags.host !== undefined ? { host: flags.host } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(flags.user !== undefined ? { user: flags.user } : {}),
        ...(flags.key !== undefined ? { key: flags.key } : {}),
        ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
        ...(flags.target !== undefined ? { target: flags.target } : {}),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
      });
      let target: import('../../provision/index.js').ProvisionTarget;
      if (stack.target === 'local') target = { kind: 'local' };
      else {
        if (!stack.host.key)
          throw new UsageError(
            'host.key: required for an SSH target (give --key KEY_FILE or host.key in the stack file)',
          );
        target = {
          kind: 'ssh',
          address: stack.host.address as string,
          port: stack.host.port,
          user: stack.host.user,
          keyFile: stack.host.key,
        };
      }
      const reporter = flags.json ? p.jsonReporter() : await p.terminalReporter();
      const confirm = process.stdin.isTTY && !flags.json ? askYesNo : undefined;
      const result = await p.provision(stack, target, {
        check: !!flags.check,
        yes: !!flags.yes,
        reporter,
        env: cli.env,
        ...(confirm ? { confirm } : {}),
      });
      if (result.secretsCreated && !flags.json) {
        const { readFile } = await import('node:fs/promises');
        const secrets = JSON.parse(await readFile(result.secretsPath, 'utf8')) as { admin_password: string };
        // Shown this once; afterwards only the file's path is printed.
        process.stdout.write(
          `\nAdmin sign-in (shown once): ${stack.airflow.admin.username} / ${secrets.admin_password}\n`,
        );
      }
      if (!result.ok) process.exitCode = 13;
    });
};

async function askYesNo(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
