import { confirm, input, number, select } from '@inquirer/prompts';
import { DescribeKeyPairsCommand, DescribeRegionsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseIni } from 'ini';
import { stringify } from 'yaml';
import { errorMessage, isUpdraftError } from '../../errors.js';
import { validateStack, type Stack } from '../stack/schema.js';
import {
  DEFAULT_INSTANCE_TYPE,
  DEFAULT_ROOT_VOLUME_GIB,
  FALLBACK_INSTANCE_TYPE,
  isCidr,
  OS_PROFILES,
} from './config.js';
import { explainError } from './errors.js';
import { parsePublicKeyFile } from './key-pair.js';
import { zonesOffering } from './network.js';
import { renderChanges, renderPlanHeader } from './present.js';
import { createAwsClients, TAG_STACK, type AwsClients } from './session.js';
import { defaultIo, upLoaded } from './commands.js';
import { awsStackOf } from './stack-file.js';
import { upInfrastructure } from './stack-ops.js';

/**
 * `updraft setup`: the guided way to a stack file and a running node. Every prompt has a default
 * and checks its answer (against AWS where that is the truth: region, instance type, key pair
 * name); nothing is written or created before the plan is confirmed, so Ctrl-C at any prompt
 * leaves nothing behind.
 */
export interface SetupOptions {
  stackFile?: string;
  /** false: write the stack file and stop. */
  up: boolean;
  /** Written to aws.ssh: reach the instance at another address (private networks, tests). */
  sshHost?: string;
  sshUser?: string;
  sshPort?: number;
  env: NodeJS.ProcessEnv;
}

/** Exit code after Ctrl-C (128 + SIGINT), as a shell reports it. */
export const CANCELLED_EXIT = 130;

export async function runSetup(options: SetupOptions): Promise<number> {
  try {
    return await wizard(options);
  } catch (error) {
    if ((error as { name?: string }).name === 'ExitPromptError') {
      process.stderr.write('\nSetup cancelled: nothing was written and nothing was created.\n');
      return CANCELLED_EXIT;
    }
    throw explainError(error);
  }
}

/** Profiles named in ~/.aws/config and ~/.aws/credentials (or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE). */
export function awsProfiles(env: NodeJS.ProcessEnv): { name: string; region?: string }[] {
  const home = env.HOME ?? homedir();
  const found = new Map<string, string | undefined>();
  const read = (path: string, configStyle: boolean) => {
    if (!existsSync(path)) return;
    const parsed = parseIni(readFileSync(path, 'utf8')) as Record<string, Record<string, string>>;
    for (const [section, values] of Object.entries(parsed)) {
      const name = configStyle && section.startsWith('profile ') ? section.slice('profile '.length) : section;
      if (configStyle && section !== 'default' && !section.startsWith('profile ')) continue;
      found.set(name, values.region ?? found.get(name));
    }
  };
  read(env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'), true);
  read(env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials'), false);
  return [...found.entries()].map(([name, region]) => ({ name, ...(region ? { region } : {}) }));
}

/** The operator's public IPv4 address, to offer `/32` as the default; undefined when unknown. */
export async function publicAddress(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const url = env.UPDRAFT_PUBLIC_IP_URL ?? 'https://checkip.amazonaws.com';
  if (url === 'off') return undefined;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const text = (await response.text()).trim();
    return response.ok && isCidr(`${text}/32`) ? text : undefined;
  } catch {
    return undefined;
  }
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function wizard(options: SetupOptions): Promise<number> {
  const { env } = options;
  say('Updraft setup: an Updraft node on EC2. Defaults are in brackets; Ctrl-C leaves nothing behind.\n');

  const name = await input({
    message: 'Stack name',
    default: 'updraft',
    validate: (v) => {
      try {
        validateStack({ name: v }, 'stack name');
        return true;
      } catch (e) {
        return errorMessage(e).replace(/^.*\n\s*- /s, '');
      }
    },
  });

  // AWS credentials: a profile, or the default chain (env variables, SSO, instance role).
  const profiles = awsProfiles(env);
  const chain = '(default credential chain)';
  const profileChoice =
    profiles.length === 0
      ? chain
      : await select({
          message: 'AWS profile',
          default:
            env.AWS_PROFILE && profiles.some((p) => p.name === env.AWS_PROFILE) ? env.AWS_PROFILE : chain,
          choices: [{ name: chain, value: chain }, ...profiles.map((p) => ({ name: p.name, value: p.name }))],
        });
  const profile = profileChoice === chain ? undefined : profileChoice;
  const profileRegion = profiles.find((p) => p.name === profile)?.region;

  let clients: AwsClients | undefined;
  const region = await input({
    message: 'AWS region',
    default: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? profileRegion ?? 'us-east-1',
    validate: async (v) => {
      if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(v)) return 'a region name such as us-east-1 or eu-north-1';
      const candidate = createAwsClients(
        { region: v, ...(profile ? { profile } : {}) },
        { env, dryRun: true },
      );
      try {
        const regions = await candidate.ec2.send(new DescribeRegionsCommand({}));
        if (!regions.Regions?.some((r) => r.RegionName === v))
          return `${v} is not a region this account can use`;
      } catch (e) {
        return errorMessage(explainError(e));
      }
      clients = candidate;
      return true;
    },
  });
  const aws = clients!;
  const t2Zones = await zonesOffering(aws.ec2, DEFAULT_INSTANCE_TYPE);
  const instanceType = await input({
    message: `Instance type (${t2Zones.length ? 't2.large: 2 vCPU, 8 GiB, as in the source document' : 't2 is not offered here; t3.large: 2 vCPU, 8 GiB'})`,
    default: t2Zones.length ? DEFAULT_INSTANCE_TYPE : FALLBACK_INSTANCE_TYPE,
    validate: async (v) => {
      if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(v)) return 'an instance type such as t2.large or t3.large';
      const zones = await zonesOffering(aws.ec2, v);
      return zones.length > 0 || `${v} is not offered in ${region}`;
    },
  });

  const profileName = await select<'current' | 'legacy'>({
    message: 'OS profile',
    default: 'current',
    choices: [
      { name: OS_PROFILES.al2023.label, value: 'current' },
      {
        name: `${OS_PROFILES.al2.label} — END OF LIFE`,
        value: 'legacy',
        description: OS_PROFILES.al2.endOfLife ?? '',
      },
    ],
  });

  const defaultVpc = (
    await aws.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }))
  ).Vpcs?.[0];
  const networkMode = await select<'default' | 'new'>({
    message: 'Network',
    default: defaultVpc ? 'default' : 'new',
    choices: [
      ...(defaultVpc
        ? [{ name: `The default VPC (${defaultVpc.VpcId}), a public subnet`, value: 'default' as const }]
        : []),
      { name: 'A new VPC for this stack (public subnet, internet gateway)', value: 'new' as const },
    ],
  });
  const network: Record<string, string> = { mode: networkMode };
  if (networkMode === 'new') {
    network.vpcCidr = await input({
      message: 'VPC CIDR',
      default: '10.42.0.0/16',
      validate: (v) => isCidr(v) || 'an IPv4 CIDR such as 10.42.0.0/16',
    });
    const [base] = network.vpcCidr.split('/');
    const octets = (base ?? '10.42.0.0').split('.');
    network.subnetCidr = await input({
      message: 'Public subnet CIDR',
      default: `${octets[0]}.${octets[1]}.1.0/24`,
      validate: (v) => isCidr(v) || 'an IPv4 CIDR inside the VPC, such as 10.42.1.0/24',
    });
  }

  const myAddress = await publicAddress(env);
  const cidrText = await input({
    message: 'Who may reach SSH and the web UI (CIDRs, comma-separated)',
    ...(myAddress ? { default: `${myAddress}/32` } : {}),
    validate: (v) => {
      const list = v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      if (list.length === 0) return 'at least one CIDR, such as 203.0.113.7/32 (your address)';
      const bad = list.filter((c) => !isCidr(c));
      return bad.length === 0 || `not IPv4 CIDRs: ${bad.join(', ')}`;
    },
  });
  const allowedCidrs = cidrText
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  if (allowedCidrs.some((c) => c.endsWith('/0'))) {
    const open = await confirm({
      message: 'SSH and the web UI would be open to the whole internet. Really?',
      default: false,
    });
    if (!open) {
      process.stderr.write(
        'Setup stopped: narrow the allowed addresses and run it again. Nothing was written.\n',
      );
      return 0;
    }
  }

  const keyMode = await select<'create' | 'import'>({
    message: 'SSH key pair',
    default: 'create',
    choices: [
      {
        name: 'Create a new ed25519 key pair (the private key is saved 0600 in the stack folder)',
        value: 'create',
      },
      { name: 'Import an existing public key', value: 'import' },
    ],
  });
  const keyPair: Record<string, string> = { mode: keyMode };
  if (keyMode === 'import') {
    const home = env.HOME ?? homedir();
    const guess = ['id_ed25519.pub', 'id_rsa.pub']
      .map((f) => join(home, '.ssh', f))
      .find((p) => existsSync(p));
    keyPair.publicKeyFile = await input({
      message: 'Public key file',
      ...(guess ? { default: guess } : {}),
      validate: (v) => {
        try {
          parsePublicKeyFile(resolve(v));
          return true;
        } catch (e) {
          return errorMessage(e);
        }
      },
    });
    keyPair.privateKeyFile = await input({
      message: 'Its private key file (SSH to the node uses it)',
      default: keyPair.publicKeyFile.replace(/\.pub$/, ''),
      validate: (v) => existsSync(resolve(v)) || `${v} does not exist`,
    });
  }
  keyPair.name = await input({
    message: 'Key pair name in AWS',
    default: `updraft-${name}`,
    validate: async (v) => {
      const same = await aws.ec2.send(
        new DescribeKeyPairsCommand({ Filters: [{ Name: 'key-name', Values: [v] }] }),
      );
      const other = (same.KeyPairs ?? []).find(
        (k) => !k.Tags?.some((t) => t.Key === TAG_STACK && t.Value === name),
      );
      return (
        !other ||
        `a key pair named ${v} already exists in ${region} and is not this stack's; choose another name`
      );
    },
  });

  const rootVolumeGiB = await number({
    message: 'Root volume size (GiB)',
    default: DEFAULT_ROOT_VOLUME_GIB,
    min: 8,
    max: 16384,
    required: true,
  });
  const adminUser = await input({
    message: 'Admin user name',
    default: 'admin',
    validate: (v) => /^[A-Za-z0-9._@-]{1,64}$/.test(v) || 'letters, digits and . _ - @ (at most 64)',
  });
  const adminEmail = await input({
    message: 'Admin e-mail',
    validate: (v) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v) || 'an e-mail address',
  });

  const loadExamples = await confirm({
    message: 'Load the example DAGs (to try the node out)?',
    default: false,
  });

  const ssh = {
    ...(options.sshHost ? { host: options.sshHost } : {}),
    ...(options.sshUser ? { user: options.sshUser } : {}),
    ...(options.sshPort ? { port: options.sshPort } : {}),
  };
  const document = {
    name,
    profile: profileName,
    airflow: {
      ...(loadExamples ? { load_examples: true } : {}),
      admin: { username: adminUser, email: adminEmail },
    },
    aws: {
      region,
      ...(profile ? { profile } : {}),
      instanceType,
      network,
      allowedCidrs,
      keyPair,
      rootVolumeGiB: rootVolumeGiB ?? DEFAULT_ROOT_VOLUME_GIB,
      ...(Object.keys(ssh).length ? { ssh } : {}),
    },
  };
  const stack: Stack = validateStack(document, 'setup answers');
  const stackFile = resolve(options.stackFile ?? `${name}.stack.yaml`);
  const section = awsStackOf(stack, {}, env, process.cwd());

  const plan = await upInfrastructure(name, section, aws, { dryRun: true });
  say('');
  say([...renderPlanHeader(name, section), '', 'Plan:', ...renderChanges(plan.changes)].join('\n'));
  say(
    `\nThe answers go to ${stackFile}${options.up ? `; then \`updraft up --stack ${stackFile}\` runs.` : '.'}`,
  );
  if (existsSync(stackFile)) {
    const overwrite = await confirm({ message: `${stackFile} exists. Replace it?`, default: false });
    if (!overwrite) {
      process.stderr.write('Setup stopped: nothing was written and nothing was created.\n');
      return 0;
    }
  }
  const go = await confirm({
    message: options.up ? 'Write the stack file and create these resources?' : 'Write the stack file?',
    default: true,
  });
  if (!go) {
    process.stderr.write('Setup stopped: nothing was written and nothing was created.\n');
    return 0;
  }

  writeFileSync(
    stackFile,
    `# Updraft stack file, written by \`updraft setup\`. Reference: docs/deploy-to-aws.md\n${stringify(document)}`,
    { mode: 0o644 },
  );
  say(`Wrote ${stackFile}`);
  if (!options.up) {
    say(`Bring it up with: updraft up --stack ${stackFile}`);
    return 0;
  }
  try {
    return await upLoaded(stack, section, { yes: true }, defaultIo(env));
  } catch (error) {
    if (isUpdraftError(error)) throw error;
    throw explainError(error);
  }
}
