import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { loadStackFile, validateStack, type Stack } from '../stack/index.js';
import { parseAwsSection, type AwsSection } from './config.js';

/**
 * A stack file read for the EC2 layer: the engine's validated stack plus its `aws:` section,
 * validated here. Command-line flags override `aws:` keys before validation, so a flag and a key
 * are checked by the same rules.
 */
export interface AwsStack {
  stack: Stack;
  aws: AwsSection;
  /** The stack file, when there is one. */
  file?: string;
}

export interface AwsFlagOverrides {
  region?: string;
  awsProfile?: string;
  endpointUrl?: string;
  instanceType?: string;
  availabilityZone?: string;
  allowCidr?: string[];
  sshHost?: string;
  sshPort?: number;
  sshUser?: string;
}

export function applyAwsOverrides(
  raw: Record<string, unknown> | null,
  o: AwsFlagOverrides,
): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(raw ?? {});
  if (o.region) out.region = o.region;
  if (o.awsProfile) out.profile = o.awsProfile;
  if (o.endpointUrl) out.endpointUrl = o.endpointUrl;
  if (o.instanceType) out.instanceType = o.instanceType;
  if (o.availabilityZone) out.availabilityZone = o.availabilityZone;
  if (o.allowCidr && o.allowCidr.length > 0) out.allowedCidrs = o.allowCidr;
  if (o.sshHost || o.sshPort || o.sshUser) {
    const ssh = { ...((out.ssh as Record<string, unknown> | undefined) ?? {}) };
    if (o.sshHost) ssh.host = o.sshHost;
    if (o.sshPort) ssh.port = o.sshPort;
    if (o.sshUser) ssh.user = o.sshUser;
    out.ssh = ssh;
  }
  return out;
}

export function awsStackOf(
  stack: Stack,
  overrides: AwsFlagOverrides,
  env: NodeJS.ProcessEnv,
  baseDir: string,
): AwsSection {
  return parseAwsSection(applyAwsOverrides(stack.aws, overrides), {
    name: stack.name,
    profile: stack.profile,
    webPort: stack.airflow.web_port,
    env,
    baseDir,
  });
}

export async function loadAwsStack(
  path: string,
  overrides: AwsFlagOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<AwsStack> {
  const stack = await loadStackFile(path);
  return { stack, aws: awsStackOf(stack, overrides, env, dirname(resolve(path))), file: path };
}

/** `--stack` names a stack file, or (status, outputs, destroy) just a stack name. */
export function isStackFile(value: string): boolean {
  return existsSync(value) && statSync(value).isFile();
}

/**
 * For commands that only need to find a stack in AWS: a stack file if `--stack` is one, else the
 * name with the region (and profile, endpoint) from flags or the environment.
 */
export async function resolveStackRef(
  value: string,
  overrides: AwsFlagOverrides,
  env: NodeJS.ProcessEnv,
): Promise<{
  name: string;
  region: string;
  aws: Pick<AwsSection, 'region' | 'profile' | 'endpointUrl' | 'tags'>;
  full?: AwsStack;
}> {
  if (isStackFile(value)) {
    const full = await loadAwsStack(value, overrides, env);
    return { name: full.stack.name, region: full.aws.region, aws: full.aws, full };
  }
  if (/[/\\]|\.ya?ml$/.test(value)) throw new UsageError(`--stack ${value}: no such stack file`);
  // Validate the name by the stack file's own rule.
  const name = validateStack({ name: value }, '--stack').name;
  const region = overrides.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region)
    throw new UsageError(
      `--stack ${value} is a name: give --region (or set AWS_REGION), or pass the stack file`,
    );
  return {
    name,
    region,
    aws: {
      region,
      tags: {},
      ...((overrides.awsProfile ?? env.AWS_PROFILE)
        ? { profile: overrides.awsProfile ?? env.AWS_PROFILE }
        : {}),
      ...(overrides.endpointUrl ? { endpointUrl: overrides.endpointUrl } : {}),
    },
  };
}
