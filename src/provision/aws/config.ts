import { Ajv } from 'ajv';
import { isIPv4 } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ValidationError } from '../../errors.js';
import { stackDir } from '../stack/secrets.js';

/**
 * The `aws:` section of a stack file: everything the EC2 layer needs, validated once here. The
 * provisioning engine passes this section through untouched; what is not here (admin user,
 * software versions) belongs to the engine's part of the stack file.
 */
export type OsProfile = 'al2023' | 'al2';
export type Architecture = 'x86_64' | 'arm64';

export interface NetworkSpec {
  /** `default`: the region's default VPC and its public subnets. `new`: a VPC made for this stack. */
  mode: 'default' | 'new';
  vpcCidr: string;
  subnetCidr: string;
}

export interface KeyPairSpec {
  /**
   * `create`: generate a key pair here (ed25519 unless `type: rsa`), save the private key 0600 in
   * the stack's state directory, import the public half. `import`: import `publicKeyFile`
   * (an existing key; its private half stays where it is, at `privateKeyFile`).
   */
  mode: 'create' | 'import';
  name: string;
  type: 'ed25519' | 'rsa';
  publicKeyFile?: string;
  privateKeyFile: string;
}

export interface SshSpec {
  user: string;
  /** Reach the instance at this address instead of its public IP (private networks, tests). */
  host?: string;
  port: number;
}

export interface AwsSection {
  region: string;
  profile?: string;
  endpointUrl?: string;
  instanceType: string;
  /** From the stack's top-level `profile` (current: al2023, legacy: al2), not an aws: key. */
  os: OsProfile;
  architecture: Architecture;
  /** Pin an AMI instead of the latest one from the public SSM parameter. */
  amiId?: string;
  availabilityZone?: string;
  network: NetworkSpec;
  /** Who may reach SSH and the web UI. Redis and MySQL are never in here: see security-group.ts. */
  allowedCidrs: string[];
  /** From the stack's airflow.web_port, not an aws: key. */
  webPort: number;
  keyPair: KeyPairSpec;
  rootVolumeGiB: number;
  ssh: SshSpec;
  /** Extra tags on every resource (updraft:stack and Name are always set). */
  tags: Record<string, string>;
}

export const DEFAULT_INSTANCE_TYPE = 't2.large';
/** Where t2 is not offered (eu-north-1 and newer regions). */
export const FALLBACK_INSTANCE_TYPE = 't3.large';
export const DEFAULT_WEB_PORT = 8080;
export const DEFAULT_ROOT_VOLUME_GIB = 30;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['allowedCidrs'],
  properties: {
    region: { type: 'string', pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$' },
    profile: { type: 'string', minLength: 1 },
    endpointUrl: { type: 'string', pattern: '^https?://' },
    instanceType: { type: 'string', pattern: '^[a-z][a-z0-9-]*\\.[a-z0-9]+$' },
    architecture: { enum: ['x86_64', 'arm64'] },
    amiId: { type: 'string', pattern: '^ami-[0-9a-f]+$' },
    availabilityZone: { type: 'string', minLength: 1 },
    network: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['default', 'new'] },
        vpcCidr: { type: 'string' },
        subnetCidr: { type: 'string' },
      },
    },
    allowedCidrs: { type: 'array', minItems: 1, items: { type: 'string' } },
    keyPair: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['create', 'import'] },
        name: { type: 'string', pattern: '^[\\x20-\\x7e]{1,255}$' },
        type: { enum: ['ed25519', 'rsa'] },
        publicKeyFile: { type: 'string', minLength: 1 },
        privateKeyFile: { type: 'string', minLength: 1 },
      },
    },
    rootVolumeGiB: { type: 'integer', minimum: 8, maximum: 16384 },
    ssh: {
      type: 'object',
      additionalProperties: false,
      properties: {
        user: { type: 'string', minLength: 1 },
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
      },
    },
    tags: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

/** The section as written (the schema above has checked the shapes). */
interface RawAwsSection {
  region?: string;
  profile?: string;
  endpointUrl?: string;
  instanceType?: string;
  architecture?: Architecture;
  amiId?: string;
  availabilityZone?: string;
  network?: Partial<NetworkSpec>;
  allowedCidrs: string[];
  keyPair?: Partial<KeyPairSpec>;
  rootVolumeGiB?: number;
  ssh?: Partial<SshSpec>;
  tags?: Record<string, string>;
}

let validator: ReturnType<Ajv['compile']> | undefined;

/**
 * Where a stack's local files live — its generated private key next to the secrets the
 * provisioning engine keeps there ($UPDRAFT_HOME/stacks/NAME, 0700).
 */
export function stackStateDir(stackName: string, env: NodeJS.ProcessEnv = process.env): string {
  return stackDir(stackName, env);
}

export function isCidr(value: string): boolean {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(value);
  if (!match || !isIPv4(match[1]!)) return false;
  const prefix = Number(match[2]);
  return prefix >= 0 && prefix <= 32;
}

/** Instance families whose names mark Graviton (arm64): t4g, m7g, c6gn, ... */
export function architectureOf(instanceType: string): Architecture {
  const family = instanceType.split('.')[0] ?? '';
  return /\dg/.test(family) || family === 'a1' ? 'arm64' : 'x86_64';
}

function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  return path.startsWith('~/') ? join(env.HOME ?? homedir(), path.slice(2)) : path;
}

/**
 * Check the raw `aws:` section and fill in the defaults. `base` resolves relative file paths (the
 * stack file's folder). Environment fallbacks follow the AWS CLI: AWS_REGION / AWS_DEFAULT_REGION,
 * AWS_PROFILE.
 */
export interface AwsSectionContext {
  /** The stack's name (tags, resource names, the local folder). */
  name: string;
  /** The stack's OS profile: current = Amazon Linux 2023 + MySQL 8.4, legacy = Amazon Linux 2 + MySQL 5.7. */
  profile?: 'current' | 'legacy';
  /** The stack's web port (airflow.web_port), opened to the allowed CIDRs. */
  webPort?: number;
  env?: NodeJS.ProcessEnv;
  /** Folder relative paths are taken from (the stack file's). */
  baseDir?: string;
}

export function parseAwsSection(raw: unknown, options: AwsSectionContext): AwsSection {
  const stackName = options.name;
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  if (raw === undefined || raw === null) throw new ValidationError('the stack file has no `aws:` section');
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError('`aws:` must be a mapping');
  validator ??= new Ajv({ allErrors: true, strict: false }).compile(schema);
  if (!validator(raw)) {
    const problems = (validator.errors ?? []).map((e) => {
      const where = `aws${e.instancePath.replaceAll('/', '.')}`;
      if (e.keyword === 'additionalProperties') {
        return `${where}: unknown key '${String(e.params.additionalProperty)}'`;
      }
      if (e.keyword === 'enum')
        return `${where} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
      return `${where} ${e.message ?? 'is not valid'}`;
    });
    throw new ValidationError(`stack file: ${problems.join('; ')}`);
  }
  const r = raw as RawAwsSection;

  const region = r.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new ValidationError('stack file: aws.region is not set (nor AWS_REGION / AWS_DEFAULT_REGION)');
  }
  const allowedCidrs = r.allowedCidrs as string[];
  const badCidrs = allowedCidrs.filter((c) => !isCidr(c));
  if (badCidrs.length > 0) {
    throw new ValidationError(
      `stack file: aws.allowedCidrs has entries that are not IPv4 CIDRs: ${badCidrs.join(', ')}`,
    );
  }

  const network: NetworkSpec = {
    mode: r.network?.mode ?? 'default',
    vpcCidr: r.network?.vpcCidr ?? '10.42.0.0/16',
    subnetCidr: r.network?.subnetCidr ?? '10.42.1.0/24',
  };
  for (const key of ['vpcCidr', 'subnetCidr'] as const) {
    if (!isCidr(network[key]))
      throw new ValidationError(`stack file: aws.network.${key} is not an IPv4 CIDR`);
  }

  const stateDir = stackStateDir(stackName, env);
  const keyMode = r.keyPair?.mode ?? 'create';
  const keyType = r.keyPair?.type ?? 'ed25519';
  const abs = (p: string) => resolve(baseDir, expandHome(p, env));
  if (keyMode === 'import' && !r.keyPair?.publicKeyFile) {
    throw new ValidationError(
      'stack file: aws.keyPair.mode is import but aws.keyPair.publicKeyFile is not set',
    );
  }
  if (keyMode === 'import' && !r.keyPair?.privateKeyFile) {
    throw new ValidationError(
      'stack file: aws.keyPair.mode is import: set aws.keyPair.privateKeyFile to the private half, which SSH needs',
    );
  }
  const keyPair: KeyPairSpec = {
    mode: keyMode,
    name: r.keyPair?.name ?? `updraft-${stackName}`,
    type: keyType,
    ...(r.keyPair?.publicKeyFile ? { publicKeyFile: abs(r.keyPair.publicKeyFile) } : {}),
    privateKeyFile: r.keyPair?.privateKeyFile
      ? abs(r.keyPair.privateKeyFile)
      : join(stateDir, `id_${keyType}`),
  };

  const instanceType = r.instanceType ?? DEFAULT_INSTANCE_TYPE;
  const os: OsProfile = options.profile === 'legacy' ? 'al2' : 'al2023';
  // Only an explicit endpoint lives here; AWS_ENDPOINT_URL(_EC2/_SSM) are read per service in clients.ts.
  const endpointUrl: string | undefined = r.endpointUrl;
  const profile = r.profile ?? env.AWS_PROFILE;
  return {
    region,
    ...(profile ? { profile } : {}),
    ...(endpointUrl ? { endpointUrl } : {}),
    instanceType,
    os,
    architecture: r.architecture ?? architectureOf(instanceType),
    ...(r.amiId ? { amiId: r.amiId } : {}),
    ...(r.availabilityZone ? { availabilityZone: r.availabilityZone } : {}),
    network,
    allowedCidrs,
    webPort: options.webPort ?? DEFAULT_WEB_PORT,
    keyPair,
    rootVolumeGiB: r.rootVolumeGiB ?? DEFAULT_ROOT_VOLUME_GIB,
    ssh: {
      user: r.ssh?.user ?? 'ec2-user',
      ...(r.ssh?.host ? { host: r.ssh.host } : {}),
      port: r.ssh?.port ?? 22,
    },
    tags: r.tags ?? {},
  };
}

/** The SSM public parameter that names the latest AMI of an OS profile. */
export function amiParameterName(os: OsProfile, architecture: Architecture): string {
  const prefix = '/aws/service/ami-amazon-linux-latest';
  return os === 'al2'
    ? `${prefix}/amzn2-ami-hvm-${architecture}-gp2`
    : `${prefix}/al2023-ami-kernel-default-${architecture}`;
}

/** The DescribeImages name pattern for the same AMI, when SSM cannot be read. */
export function amiNamePattern(os: OsProfile, architecture: Architecture): string {
  return os === 'al2' ? `amzn2-ami-hvm-*-${architecture}-gp2` : `al2023-ami-2023.*-kernel-*-${architecture}`;
}

export const OS_PROFILES: Record<OsProfile, { label: string; mysql: string; endOfLife?: string }> = {
  al2023: { label: 'Amazon Linux 2023 with MySQL 8.4 LTS', mysql: '8.4' },
  al2: {
    label: 'Amazon Linux 2 with MySQL 5.7 (as in the source document)',
    mysql: '5.7',
    endOfLife: 'Amazon Linux 2 ended support on 2026-06-30 and MySQL 5.7 in October 2023',
  },
};
