import {
  DescribeInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStatusOk,
  waitUntilInstanceStopped,
  type Instance,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { createHash } from 'node:crypto';
import { RemoteError, TimeoutError, errorMessage, isUpdraftError } from '../../errors.js';
import type { ResolvedAmi } from './ami.js';
import type { StackResources } from './discovery.js';
import { AwsRemoteError, awsErrorCode } from './errors.js';
import type { NetworkPlacement } from './network.js';
import { TAG_SSH_USER, TAG_WEB_PORT, type StackSession } from './session.js';

/**
 * The stack's one instance. Found by tag first — a run that died after RunInstances finds the
 * instance it made instead of launching a second — and launched with a ClientToken derived from
 * the stack and its launch parameters, so the SDK's own retries of a RunInstances whose answer
 * was lost do not launch a second one either.
 */
export function launchInput(
  s: StackSession,
  ami: ResolvedAmi,
  subnetId: string,
  groupId: string,
  keyName: string,
): Omit<RunInstancesCommandInput, 'ClientToken'> {
  return {
    ImageId: ami.imageId,
    InstanceType: s.cfg.instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    SubnetId: subnetId,
    SecurityGroupIds: [groupId],
    KeyName: keyName,
    // IMDSv2 only: a stolen SSRF cannot read the instance role's credentials with a plain GET.
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
    BlockDeviceMappings: [
      {
        DeviceName: ami.rootDeviceName,
        Ebs: {
          VolumeSize: s.cfg.rootVolumeGiB,
          VolumeType: 'gp3',
          Encrypted: true,
          DeleteOnTermination: true,
        },
      },
    ],
    TagSpecifications: [
      ...s.tagSpec('instance', 'instance', {
        [TAG_WEB_PORT]: String(s.cfg.webPort),
        [TAG_SSH_USER]: s.cfg.ssh.user,
      }),
      ...s.tagSpec('volume', 'volume'),
    ],
  };
}

/** ≤ 64 ASCII characters; a new generation only when AWS hands back an old, terminated instance. */
export function clientToken(stack: string, input: object, generation: number): string {
  const digest = createHash('sha256').update(stack).update(JSON.stringify(input)).digest('hex').slice(0, 40);
  return `updraft-${digest}-${generation}`;
}

export async function describeInstance(s: StackSession, instanceId: string): Promise<Instance> {
  const result = await s.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  const instance = result.Reservations?.[0]?.Instances?.[0];
  if (!instance) throw new RemoteError(`instance ${instanceId} is not visible to DescribeInstances`);
  return instance;
}

export async function ensureInstance(
  s: StackSession,
  found: StackResources,
  placement: NetworkPlacement,
  groupId: string | undefined,
  keyName: string,
  ami: ResolvedAmi,
): Promise<Instance | undefined> {
  const live = found.instances.filter((i) => i.State?.Name !== 'shutting-down');
  if (live.length > 1) {
    s.log(
      `warning: ${live.length} instances are tagged with this stack (${live.map((i) => i.InstanceId).join(', ')}); using the oldest`,
    );
  }
  let instance = live[0];
  if (instance?.InstanceId) {
    const id = instance.InstanceId;
    const drift =
      instance.InstanceType !== s.cfg.instanceType
        ? `; is ${instance.InstanceType}, the stack file says ${s.cfg.instanceType} (not changed in place: destroy and up to replace)`
        : '';
    s.note({ action: 'keep', resource: 'instance', id, detail: `${instance.State?.Name}${drift}` });
    const state = instance.State?.Name;
    if (state === 'stopping' && !s.dryRun)
      await waitFor(
        'stopped',
        () => waitUntilInstanceStopped(waiterConfig(s, 'runningMaxWait'), { InstanceIds: [id] }),
        id,
      );
    if (state === 'stopping' || state === 'stopped') {
      await s.mutate({ action: 'start', resource: 'instance', id, detail: 'it was stopped' }, () =>
        s.ec2.send(new StartInstancesCommand({ InstanceIds: [id] })),
      );
    }
  } else {
    instance = await launch(s, placement, groupId, keyName, ami);
  }
  if (s.dryRun || !instance?.InstanceId) return instance;

  const id = instance.InstanceId;
  s.log(`waiting for ${id} to be running`);
  await waitFor(
    'running',
    () => waitUntilInstanceRunning(waiterConfig(s, 'runningMaxWait'), { InstanceIds: [id] }),
    id,
  );
  s.log(`waiting for ${id} to pass its status checks`);
  await waitFor(
    'status-ok',
    () => waitUntilInstanceStatusOk(waiterConfig(s, 'statusOkMaxWait'), { InstanceIds: [id] }),
    id,
  );
  return describeInstance(s, id);
}

async function launch(
  s: StackSession,
  placement: NetworkPlacement,
  groupId: string | undefined,
  keyName: string,
  ami: ResolvedAmi,
): Promise<Instance | undefined> {
  const detail = `${s.cfg.instanceType}, ${ami.name ?? ami.imageId}, ${s.cfg.rootVolumeGiB} GiB gp3 encrypted, IMDSv2 required`;
  if (s.dryRun) {
    s.note({
      action: 'create',
      resource: 'instance',
      detail: `${detail}, in ${placement.subnets[0]?.availabilityZone}`,
    });
    return undefined;
  }
  const tried: string[] = [];
  for (const [index, candidate] of placement.subnets.entries()) {
    const input = launchInput(s, ami, candidate.subnetId!, groupId!, keyName);
    try {
      for (let generation = 1; generation <= 3; generation++) {
        const result = await s.ec2.send(
          new RunInstancesCommand({ ...input, ClientToken: clientToken(s.stack, input, generation) }),
        );
        const instance = result.Instances?.[0];
        if (!instance?.InstanceId) throw new RemoteError('RunInstances returned no instance');
        // The same token within AWS's memory of it returns the earlier (maybe long gone) instance.
        if (instance.State?.Name === 'terminated' || instance.State?.Name === 'shutting-down') continue;
        s.note({
          action: 'create',
          resource: 'instance',
          id: instance.InstanceId,
          detail: `${detail}, in ${candidate.availabilityZone}`,
        });
        return instance;
      }
      throw new RemoteError(
        "RunInstances kept returning terminated instances for this stack's client tokens",
      );
    } catch (error) {
      const capacity = awsErrorCode(error) === 'InsufficientInstanceCapacity';
      tried.push(candidate.availabilityZone);
      if (capacity && index < placement.subnets.length - 1) {
        s.log(
          `no ${s.cfg.instanceType} capacity in ${candidate.availabilityZone}; trying ${placement.subnets[index + 1]?.availabilityZone}`,
        );
        continue;
      }
      if (capacity && tried.length > 1) {
        throw new AwsRemoteError(
          `AWS has no ${s.cfg.instanceType} capacity in any zone tried (${tried.join(', ')}). Pick another instance type or retry later.`,
          'InsufficientInstanceCapacity',
          'ec2:RunInstances',
          { cause: error },
        );
      }
      throw error;
    }
  }
  return undefined;
}

type WaiterLimit = 'runningMaxWait' | 'statusOkMaxWait' | 'terminatedMaxWait';
const DEFAULT_WAITS: Record<WaiterLimit, number> = {
  runningMaxWait: 600,
  statusOkMaxWait: 900,
  terminatedMaxWait: 600,
};

export function waiterConfig(s: StackSession, limit: WaiterLimit) {
  return {
    client: s.ec2,
    maxWaitTime: s.options.waiter?.[limit] ?? DEFAULT_WAITS[limit],
    minDelay: s.options.waiter?.minDelay ?? 5,
    maxDelay: 30,
  };
}

export async function waitFor(what: string, wait: () => Promise<unknown>, id: string): Promise<void> {
  try {
    await wait();
  } catch (error) {
    if (isUpdraftError(error)) throw error;
    const message = `instance ${id} did not reach ${what}: ${errorMessage(error)}. Running \`updraft up\` again resumes.`;
    throw (error as { name?: string }).name === 'TimeoutError'
      ? new TimeoutError(message, { cause: error })
      : new RemoteError(message, { cause: error });
  }
}
