import {
  DeleteInternetGatewayCommand,
  DeleteKeyPairCommand,
  DeleteRouteTableCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeInstanceStatusCommand,
  DetachInternetGatewayCommand,
  DisassociateRouteTableCommand,
  TerminateInstancesCommand,
  waitUntilInstanceTerminated,
  type Instance,
} from '@aws-sdk/client-ec2';
import { existsSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveAmi } from './ami.js';
import { stackStateDir, type AwsSection } from './config.js';
import { discoverStack, tagValue, type StackResources } from './discovery.js';
import { awsErrorCode, explained } from './errors.js';
import { ensureInstance, waitFor, waiterConfig } from './instance.js';
import { assertKeyNameFree, ensureKeyPair, ensureLocalKey } from './key-pair.js';
import { ensureNetwork } from './network.js';
import { ensureSecurityGroup } from './security-group.js';
import {
  StackSession,
  TAG_SSH_USER,
  TAG_WEB_PORT,
  type AwsClients,
  type Change,
  type SessionOptions,
} from './session.js';

/**
 * The four things one can do with a stack's AWS side: bring it up (converge), plan that (dry
 * run), read what exists, and destroy it. Everything is found by the stack's tags.
 */
export interface SshEndpoint {
  host?: string;
  port: number;
  user: string;
  privateKeyFile?: string;
  /** What to paste into a terminal. */
  command?: string;
}

export interface StackOutputs {
  stack: string;
  region: string;
  exists: boolean;
  instanceId?: string;
  state?: string;
  instanceType?: string;
  availabilityZone?: string;
  publicIp?: string;
  publicDns?: string;
  privateIp?: string;
  url?: string;
  ssh?: SshEndpoint;
  /** EC2's status checks: `ok`, `initializing`, `impaired`, ... */
  health?: { system?: string; instance?: string };
  resources: Record<string, string[]>;
}

export interface UpResult {
  dryRun: boolean;
  changes: Change[];
  outputs: StackOutputs;
}

export async function upInfrastructure(
  stack: string,
  cfg: AwsSection,
  clients: AwsClients,
  options: SessionOptions = {},
): Promise<UpResult> {
  return explained(async () => {
    const s = new StackSession(stack, cfg, clients, options);
    const found = await discoverStack(s.ec2, stack);
    // Reads that can refuse the whole plan come before the first change.
    const ami = await resolveAmi(s);
    s.note({
      action: 'use',
      resource: 'ami',
      id: ami.imageId,
      detail: `${ami.name ?? ''} (from ${ami.source})`.trim(),
    });
    await assertKeyNameFree(s, found);
    const placement = await ensureNetwork(s, found);
    const local = ensureLocalKey(s);
    const keyName = await ensureKeyPair(s, found, local);
    const groupId = await ensureSecurityGroup(s, found, placement.vpcId);
    const instance = await ensureInstance(s, found, placement, groupId, keyName, ami);
    const after = s.dryRun ? found : await discoverStack(s.ec2, stack);
    return {
      dryRun: s.dryRun,
      changes: s.changes,
      outputs: outputsOf(stack, cfg.region, after, instance, sshOverrides(cfg)),
    };
  }, fallbackContext(cfg));
}

function fallbackContext(cfg: AwsSection) {
  return {
    action: 'an EC2 call',
    region: cfg.region,
    instanceType: cfg.instanceType,
    keyName: cfg.keyPair.name,
    ...(cfg.profile ? { profile: cfg.profile } : {}),
    ...(cfg.availabilityZone ? { availabilityZone: cfg.availabilityZone } : {}),
  };
}

function sshOverrides(cfg: AwsSection): SshOverrides {
  return {
    user: cfg.ssh.user,
    port: cfg.ssh.port,
    privateKeyFile: cfg.keyPair.privateKeyFile,
    webPort: cfg.webPort,
    ...(cfg.ssh.host ? { host: cfg.ssh.host } : {}),
  };
}

export interface SshOverrides {
  host?: string;
  port?: number;
  user?: string;
  privateKeyFile?: string;
  webPort?: number;
}

function resourceIds(found: StackResources): Record<string, string[]> {
  const ids = (list: (string | undefined)[]) => list.filter((x): x is string => Boolean(x));
  return {
    instances: ids(found.instances.map((i) => i.InstanceId)),
    securityGroups: ids(found.securityGroups.map((g) => g.GroupId)),
    keyPairs: ids(found.keyPairs.map((k) => k.KeyName)),
    routeTables: ids(found.routeTables.map((r) => r.RouteTableId)),
    internetGateways: ids(found.internetGateways.map((g) => g.InternetGatewayId)),
    subnets: ids(found.subnets.map((sn) => sn.SubnetId)),
    vpcs: ids(found.vpcs.map((v) => v.VpcId)),
  };
}

export function outputsOf(
  stack: string,
  region: string,
  found: StackResources,
  instance: Instance | undefined,
  overrides: SshOverrides = {},
  health?: StackOutputs['health'],
): StackOutputs {
  const i = instance ?? found.instances[0];
  const base: StackOutputs = {
    stack,
    region,
    exists: Object.values(resourceIds(found)).some((l) => l.length > 0),
    resources: resourceIds(found),
  };
  if (!i?.InstanceId) return base;
  const webPort = overrides.webPort ?? Number(tagValue(i.Tags, TAG_WEB_PORT) ?? 8080);
  const address = i.PublicDnsName || i.PublicIpAddress;
  const user = overrides.user ?? tagValue(i.Tags, TAG_SSH_USER) ?? 'ec2-user';
  const sshHost = overrides.host ?? i.PublicIpAddress ?? i.PrivateIpAddress;
  const port = overrides.port ?? 22;
  const ssh: SshEndpoint = {
    ...(sshHost ? { host: sshHost } : {}),
    port,
    user,
    ...(overrides.privateKeyFile ? { privateKeyFile: overrides.privateKeyFile } : {}),
  };
  if (sshHost) {
    ssh.command = [
      'ssh',
      ...(overrides.privateKeyFile ? ['-i', overrides.privateKeyFile] : []),
      ...(port !== 22 ? ['-p', String(port)] : []),
      `${user}@${sshHost}`,
    ].join(' ');
  }
  return {
    ...base,
    exists: true,
    instanceId: i.InstanceId,
    ...(i.State?.Name ? { state: i.State.Name } : {}),
    ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
    ...(i.Placement?.AvailabilityZone ? { availabilityZone: i.Placement.AvailabilityZone } : {}),
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    ...(i.PublicDnsName ? { publicDns: i.PublicDnsName } : {}),
    ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
    ...(address ? { url: `http://${address}:${webPort}/` } : {}),
    ssh,
    ...(health ? { health } : {}),
  };
}

/** What exists for a stack, from AWS: instance state, addresses, URL and EC2's status checks. */
export async function stackStatus(
  stack: string,
  region: string,
  clients: AwsClients,
  overrides: SshOverrides = {},
): Promise<StackOutputs> {
  return explained(async () => {
    const found = await discoverStack(clients.ec2, stack);
    const instance = found.instances[0];
    let health: StackOutputs['health'];
    if (instance?.InstanceId) {
      const status = await clients.ec2.send(
        new DescribeInstanceStatusCommand({ InstanceIds: [instance.InstanceId], IncludeAllInstances: true }),
      );
      const st = status.InstanceStatuses?.[0];
      health = {
        ...(st?.SystemStatus?.Status ? { system: st.SystemStatus.Status } : {}),
        ...(st?.InstanceStatus?.Status ? { instance: st.InstanceStatus.Status } : {}),
      };
    }
    return outputsOf(stack, region, found, instance, overrides, health);
  });
}

export interface DestroyOptions extends SessionOptions {
  /** Also delete the stack's local folder (its generated private key and secrets). */
  deleteLocal?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface DestroyResult {
  dryRun: boolean;
  changes: Change[];
  localFolder: { path: string; deleted: boolean; exists: boolean };
}

/**
 * Delete what the stack created, found by its tag, in dependency order: instances (and wait until
 * they are gone, which frees the group and the subnet), key pairs, security groups, route tables,
 * internet gateways, subnets, VPCs. Nothing untagged is touched — not the default VPC, not a key
 * pair the stack did not make.
 */
export async function destroyStack(
  stack: string,
  cfg: Pick<AwsSection, 'region' | 'tags'> & Partial<AwsSection>,
  clients: AwsClients,
  options: DestroyOptions = {},
): Promise<DestroyResult> {
  return explained(async () => {
    const s = new StackSession(stack, cfg as AwsSection, clients, options);
    const found = await discoverStack(s.ec2, stack);

    const instanceIds = found.instances.map((i) => i.InstanceId).filter((x): x is string => Boolean(x));
    if (instanceIds.length > 0) {
      await s.mutate(
        { action: 'delete', resource: 'instance', id: instanceIds.join(', '), detail: 'terminate' },
        () => s.ec2.send(new TerminateInstancesCommand({ InstanceIds: instanceIds })),
      );
      if (!s.dryRun) {
        s.log(`waiting for ${instanceIds.join(', ')} to terminate`);
        await waitFor(
          'terminated',
          () =>
            waitUntilInstanceTerminated(waiterConfig(s, 'terminatedMaxWait'), { InstanceIds: instanceIds }),
          instanceIds.join(', '),
        );
      }
    }
    for (const key of found.keyPairs) {
      await s.mutate(
        {
          action: 'delete',
          resource: 'key-pair',
          id: key.KeyPairId ?? key.KeyName ?? '',
          detail: key.KeyName ?? '',
        },
        () => s.ec2.send(new DeleteKeyPairCommand({ KeyName: key.KeyName! })),
      );
    }
    for (const group of found.securityGroups) {
      // Right after termination the network interface can hold the group for a little while.
      await s.mutate(
        { action: 'delete', resource: 'security-group', id: group.GroupId!, detail: group.GroupName ?? '' },
        () => retryDependency(() => s.ec2.send(new DeleteSecurityGroupCommand({ GroupId: group.GroupId! }))),
      );
    }
    for (const table of found.routeTables) {
      for (const association of table.Associations ?? []) {
        if (association.Main || !association.RouteTableAssociationId) continue;
        await s.mutate(
          {
            action: 'update',
            resource: 'route-table',
            id: table.RouteTableId!,
            detail: `disassociate ${association.SubnetId}`,
          },
          () =>
            s.ec2.send(
              new DisassociateRouteTableCommand({ AssociationId: association.RouteTableAssociationId! }),
            ),
        );
      }
      await s.mutate({ action: 'delete', resource: 'route-table', id: table.RouteTableId!, detail: '' }, () =>
        s.ec2.send(new DeleteRouteTableCommand({ RouteTableId: table.RouteTableId! })),
      );
    }
    for (const gateway of found.internetGateways) {
      for (const attachment of gateway.Attachments ?? []) {
        if (!attachment.VpcId) continue;
        await s.mutate(
          {
            action: 'update',
            resource: 'internet-gateway',
            id: gateway.InternetGatewayId!,
            detail: `detach from ${attachment.VpcId}`,
          },
          () =>
            retryDependency(() =>
              s.ec2.send(
                new DetachInternetGatewayCommand({
                  InternetGatewayId: gateway.InternetGatewayId!,
                  VpcId: attachment.VpcId!,
                }),
              ),
            ),
        );
      }
      await s.mutate(
        { action: 'delete', resource: 'internet-gateway', id: gateway.InternetGatewayId!, detail: '' },
        () => s.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: gateway.InternetGatewayId! })),
      );
    }
    for (const subnet of found.subnets) {
      await s.mutate(
        { action: 'delete', resource: 'subnet', id: subnet.SubnetId!, detail: subnet.CidrBlock ?? '' },
        () => retryDependency(() => s.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId! }))),
      );
    }
    for (const vpc of found.vpcs) {
      if (vpc.IsDefault) continue; // never, even if someone tagged it by hand
      await s.mutate({ action: 'delete', resource: 'vpc', id: vpc.VpcId!, detail: vpc.CidrBlock ?? '' }, () =>
        retryDependency(() => s.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId! }))),
      );
    }

    const path = stackStateDir(stack, options.env);
    const exists = existsSync(path);
    let deleted = false;
    if (options.deleteLocal && exists) {
      if (!s.dryRun) {
        rmSync(path, { recursive: true, force: true });
        deleted = true;
      }
      s.note({
        action: 'delete',
        resource: 'local-key',
        id: path,
        detail: "the stack's local folder (key and secrets)",
      });
    }
    return {
      dryRun: s.dryRun,
      changes: s.changes,
      localFolder: { path, deleted, exists: exists && !deleted },
    };
  });
}

/** DependencyViolation clears once EC2 has released a terminated instance's interface: retry a while. */
async function retryDependency<T>(call: () => Promise<T>, attempts = 20, delayMs = 3000): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (awsErrorCode(error) !== 'DependencyViolation' || attempt >= attempts) throw error;
      await sleep(delayMs);
    }
  }
}
