import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { RegisterCommand } from '../command-kit.js';

/**
 * `setup`, `up`, `status`, `outputs`, `destroy`: an Updraft node on EC2 from a stack file. This
 * file only declares the commands; the AWS SDK, the wizard (inquirer) and the provisioning engine
 * are imported when one of them runs, so scheduler and task processes never load them.
 */
function int(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new UsageError(`${name}: must be a port number (got ${value})`);
    return n;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function awsOptions(cmd: Command): Command {
  return cmd
    .option('--region <region>', 'AWS region (default: aws.region, AWS_REGION)')
    .option(
      '--aws-profile <name>',
      'AWS profile from ~/.aws/config (default: aws.profile, AWS_PROFILE, the usual credential chain)',
    )
    .option(
      '--endpoint-url <url>',
      'EC2/SSM endpoint (default: aws.endpointUrl, AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL)',
    )
    .option(
      '--ssh-host <address>',
      'reach the instance over SSH at this address instead of its public IP (aws.ssh.host)',
    );
}

async function actions() {
  return import('../../provision/aws/commands.js');
}

export const registerAwsStack: RegisterCommand = (program, cli) => {
  program
    .command('setup')
    .description(
      'Guided setup: answer a few questions, review the plan and its cost, then bring the node up on EC2',
    )
    .option('--stack-file <file>', 'where to write the stack file (default: ./NAME.stack.yaml)')
    .option('--no-up', 'write the stack file and stop')
    .option(
      '--ssh-host <address>',
      'write aws.ssh.host: reach the instance at this address instead of its public IP',
    )
    .option('--ssh-user <user>', 'write aws.ssh.user (default ec2-user)')
    .option('--ssh-port <port>', 'write aws.ssh.port', int('--ssh-port'))
    .action(
      async (opts: {
        stackFile?: string;
        up: boolean;
        sshHost?: string;
        sshUser?: string;
        sshPort?: number;
      }) => {
        const { runSetup } = await import('../../provision/aws/wizard.js');
        process.exitCode = await runSetup({ ...opts, env: cli.env });
      },
    );

  awsOptions(
    program
      .command('up')
      .description(
        'Create or converge a stack on EC2 (network, security group, key pair, instance), then provision the node',
      )
      .requiredOption('--stack <file>', 'stack file (YAML)'),
  )
    .option('--instance-type <type>', 'instance type (aws.instanceType; default t2.large)')
    .option('--availability-zone <zone>', 'zone to launch in (aws.availabilityZone)')
    .option('--allow-cidr <cidr>', 'who may reach SSH and the web UI (repeatable; aws.allowedCidrs)', collect)
    .option('--ssh-port <port>', 'SSH port (aws.ssh.port)', int('--ssh-port'))
    .option('--ssh-user <user>', 'SSH login user (aws.ssh.user; default ec2-user)')
    .option('--no-provision', 'stop once the instance passes its status checks')
    .option('--dry-run', 'make no change in AWS (read-only calls only) and print the plan')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print one JSON document (for scripts)')
    .action(async (opts) => {
      const { runUp, defaultIo } = await actions();
      process.exitCode = await runUp(opts, defaultIo(cli.env));
    });

  for (const [name, description] of [
    ['status', 'What exists for a stack in AWS: instance state, addresses, URL, status checks'],
    ['outputs', "A stack's values for scripts (instance id, IP, DNS, URL, SSH): KEY=value lines or --json"],
  ] as const) {
    awsOptions(
      program
        .command(name)
        .description(description)
        .requiredOption('--stack <name|file>', 'stack name (with --region) or stack file'),
    )
      .option('--json', 'print JSON')
      .action(async (opts) => {
        const a = await actions();
        process.exitCode = await (name === 'status' ? a.runStatus : a.runOutputs)(opts, a.defaultIo(cli.env));
      });
  }

  awsOptions(
    program
      .command('destroy')
      .description('Delete exactly what the stack created in AWS (found by its tags), in dependency order')
      .requiredOption('--stack <name|file>', 'stack name (with --region) or stack file'),
  )
    .option('--delete-local', "also delete the stack's local private key and secrets")
    .option('--keep-local', 'keep the local private key and secrets (the default without a terminal)')
    .option('--dry-run', 'list what would be deleted; delete nothing')
    .option('--yes', 'do not ask for confirmation')
    .option('--json', 'print JSON')
    .action(async (opts: { deleteLocal?: boolean; keepLocal?: boolean } & Record<string, unknown>) => {
      if (opts.deleteLocal && opts.keepLocal)
        throw new UsageError('--delete-local and --keep-local contradict each other');
      const a = await actions();
      const deleteLocal = opts.deleteLocal ? true : opts.keepLocal ? false : undefined;
      process.exitCode = await a.runDestroy(
        {
          ...(opts as unknown as import('../../provision/aws/commands.js').DestroyFlags),
          ...(deleteLocal !== undefined ? { deleteLocal } : {}),
        },
        a.defaultIo(cli.env),
      );
    });
};
