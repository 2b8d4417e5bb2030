import {
  DescribeInstancesCommand,
  DescribeInternetGatewaysCommand,
  DescribeKeyPairsCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVolumesCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { discoverStack, type StackResources } from '../../src/provision/aws/discovery.js';
import { destroyStack, stackStatus, upInfrastructure } from '../../src/provision/aws/stack-ops.js';
import { TAG_STACK } from '../../src/provision/aws/session.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { awsConfig, FAST_WAITS, harness, tempStacksDir } from './aws-support.js';

// moto's first answers (it loads its AMI catalogue) and child processes are slow on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

let moto: MotoServer;
let stacksDir: string;

beforeAll(async () => {
  moto = await startMoto();
  stacksDir = tempStacksDir();
});

afterAll(async () => {
  await moto?.stop();
  if (stacksDir) rmSync(stacksDir, { recursive: true, force: true });
});

/** Whether a resource still exists (a terminated instance does not count). */
async function stillExists(ec2: EC2Client, resource: string): Promise<boolean> {
  const [type, id] = resource.split(':') as [string, string];
  try {
    switch (type) {
      case 'instance': {
        const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
        return (r.Reservations ?? [])
          .flatMap((x) => x.Instances ?? [])
          .some((i) => i.State?.Name !== 'terminated');
      }
      case 'volume':
        return ((await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes ?? []).length > 0;
      case 'vpc':
        return ((await ec2.send(new DescribeVpcsCommand({ VpcIds: [id] }))).Vpcs ?? []).length > 0;
      case 'subnet':
        return ((await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [id] }))).Subnets ?? []).length > 0;
      case 'internet-gateway':
        return (
          (
            (await ec2.send(new DescribeInternetGatewaysCommand({ InternetGatewayIds: [id] })))
              .InternetGateways ?? []
          ).length > 0
        );
      case 'route-table':
        return (
          ((await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [id] }))).RouteTables ?? [])
            .length > 0
        );
      case 'security-group':
        return (
          ((await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))).SecurityGroups ?? [])
            .length > 0
        );
      case 'key-pair':
        // (moto ignores KeyPairIds: list them all)
        return ((await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? []).some(
          (k) => k.KeyPairId === id,
        );
      default:
        throw new Error(`unexpected resource type ${type}`);
    }
  } catch (error) {
    if (/NotFound/.test((error as Error).name)) return false;
    throw error;
  }
}

function counts(found: StackResources): Record<string, number> {
  return Object.fromEntries(Object.entries(found).map(([k, v]) => [k, (v as unknown[]).length]));
}

async function liveInstance(h: ReturnType<typeof harness>, stack: string): Promise<Instance> {
  const found = await discoverStack(h.clients.ec2, stack);
  expect(found.instances).toHaveLength(1);
  return found.instances[0]!;
}

describe('EC2 layer against moto: default VPC', () => {
  it('creates the security group, key pair and one hardened instance, and a second up changes nothing', async () => {
    const cfg = awsConfig('dflt', stacksDir);
    const h = harness(moto, cfg);
    const result = await upInfrastructure('dflt', cfg, h.clients, FAST_WAITS);

    expect(h.mutations()).toEqual([
      'ImportKeyPair',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
    ]);
    const found = await discoverStack(h.clients.ec2, 'dflt');
    expect(counts(found)).toMatchObject({
      vpcs: 0,
      subnets: 0,
      securityGroups: 1,
      keyPairs: 1,
      instances: 1,
    });

    const instance = found.instances[0]!;
    const defaultVpc = await h.clients.ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }),
    );
    expect(instance.VpcId).toBe(defaultVpc.Vpcs?.[0]?.VpcId);
    expect(instance.InstanceType).toBe('t2.large');
    expect(instance.MetadataOptions?.HttpTokens).toBe('required');
    expect(instance.KeyName).toBe('updraft-dflt');
    expect(instance.Tags).toEqual(
      expect.arrayContaining([
        { Key: TAG_STACK, Value: 'dflt' },
        { Key: 'Name', Value: 'updraft-dflt' },
      ]),
    );
    const volumes = await h.clients.ec2.send(
      new DescribeVolumesCommand({
        Filters: [{ Name: 'attachment.instance-id', Values: [instance.InstanceId!] }],
      }),
    );
    expect(volumes.Volumes?.map((v) => [v.VolumeType, v.Encrypted, v.Size])).toEqual([['gp3', true, 30]]);

    // Security group: SSH and web from the allowed CIDR only; Redis and MySQL from the group only.
    const group = found.securityGroups[0]!;
    const rules = (group.IpPermissions ?? []).map((p) => ({
      port: p.FromPort,
      cidrs: (p.IpRanges ?? []).map((r) => r.CidrIp),
      groups: (p.UserIdGroupPairs ?? []).map((g) => g.GroupId),
    }));
    expect(rules.sort((a, b) => a.port! - b.port!)).toEqual([
      { port: 22, cidrs: ['203.0.113.7/32'], groups: [] },
      { port: 3306, cidrs: [], groups: [group.GroupId] },
      { port: 6379, cidrs: [], groups: [group.GroupId] },
      { port: 8080, cidrs: ['203.0.113.7/32'], groups: [] },
    ]);

    // The private key was generated here and saved 0600; AWS holds its public half.
    expect(statSync(cfg.keyPair.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(cfg.keyPair.privateKeyFile, 'utf8')).toContain('OPENSSH PRIVATE KEY');
    expect(found.keyPairs[0]?.KeyType).toBe('ed25519');

    expect(result.outputs).toMatchObject({ instanceId: instance.InstanceId, state: 'running', exists: true });
    expect(result.outputs.url).toMatch(/^http:\/\/.+:8080\/$/);
    expect(result.outputs.ssh?.command).toContain(`-i ${cfg.keyPair.privateKeyFile}`);

    // Converged: a second run sends no mutating call and reports everything kept.
    const again = harness(moto, cfg);
    const second = await upInfrastructure('dflt', cfg, again.clients, FAST_WAITS);
    expect(again.mutations()).toEqual([]);
    expect(second.changes.filter((c) => c.action === 'create' || c.action === 'update')).toEqual([]);
    expect((await liveInstance(again, 'dflt')).InstanceId).toBe(instance.InstanceId);

    const status = await stackStatus('dflt', 'us-east-1', again.clients);
    expect(status).toMatchObject({
      instanceId: instance.InstanceId,
      state: 'running',
      health: { system: 'ok', instance: 'ok' },
    });
  });

  it('converges the security group to changed allowed CIDRs and web port', async () => {
    const first = awsConfig('cidrs', stacksDir, { allowedCidrs: ['198.51.100.1/32'] });
    await upInfrastructure('cidrs', first, harness(moto, first).clients, FAST_WAITS);
    const changed = awsConfig('cidrs', stacksDir, { allowedCidrs: ['198.51.100.2/32'] }, { webPort: 8443 });
    const h = harness(moto, changed);
    await upInfrastructure('cidrs', changed, h.clients, FAST_WAITS);
    expect(h.mutations()).toEqual(['AuthorizeSecurityGroupIngress', 'RevokeSecurityGroupIngress']);
    const group = (await discoverStack(h.clients.ec2, 'cidrs')).securityGroups[0]!;
    const open = (group.IpPermissions ?? []).flatMap((p) =>
      (p.IpRanges ?? []).map((r) => `${p.FromPort}:${r.CidrIp}`),
    );
    expect(open.sort()).toEqual(['22:198.51.100.2/32', '8443:198.51.100.2/32']);
  });
});

describe('EC2 layer against moto: new network', () => {
  it('makes a VPC with DNS hostnames, a public subnet, an attached gateway and a default route', async () => {
    const cfg = awsConfig('net', stacksDir, {
      network: { mode: 'new', vpcCidr: '10.50.0.0/16', subnetCidr: '10.50.3.0/24' },
    });
    const h = harness(moto, cfg);
    await upInfrastructure('net', cfg, h.clients, FAST_WAITS);
    const found = await discoverStack(h.clients.ec2, 'net');
    expect(counts(found)).toMatchObject({
      vpcs: 1,
      subnets: 1,
      internetGateways: 1,
      routeTables: 1,
      securityGroups: 1,
      keyPairs: 1,
      instances: 1,
    });
    const vpc = found.vpcs[0]!;
    expect(vpc.CidrBlock).toBe('10.50.0.0/16');
    const dns = await h.clients.ec2.send(
      new DescribeVpcAttributeCommand({ VpcId: vpc.VpcId!, Attribute: 'enableDnsHostnames' }),
    );
    expect(dns.EnableDnsHostnames?.Value).toBe(true);
    const subnet = (
      await h.clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [found.subnets[0]!.SubnetId!] }))
    ).Subnets![0]!;
    expect(subnet).toMatchObject({ VpcId: vpc.VpcId, CidrBlock: '10.50.3.0/24', MapPublicIpOnLaunch: true });
    expect(found.internetGateways[0]?.Attachments).toEqual([expect.objectContaining({ VpcId: vpc.VpcId })]);
    const table = (
      await h.clients.ec2.send(
        new DescribeRouteTablesCommand({ RouteTableIds: [found.routeTables[0]!.RouteTableId!] }),
      )
    ).RouteTables![0]!;
    expect(table.Routes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          DestinationCidrBlock: '0.0.0.0/0',
          GatewayId: found.internetGateways[0]!.InternetGatewayId,
        }),
      ]),
    );
    expect(table.Associations?.map((a) => a.SubnetId)).toContain(subnet.SubnetId);
    const instance = found.instances[0]!;
    expect(instance.SubnetId).toBe(subnet.SubnetId);
    expect(instance.PublicIpAddress).toBeTruthy();
    expect(found.securityGroups[0]?.VpcId).toBe(vpc.VpcId);
  });
});

describe('EC2 layer against moto: --dry-run', () => {
  it('sends only Describe/Get calls, creates nothing (not even the local key) and lists the plan', async () => {
    const cfg = awsConfig('dry', stacksDir, { network: { mode: 'new' } });
    // The clients are not the guarded dry-run ones: the recorder, not the guard, is the judge here.
    const h = harness(moto, cfg);
    const result = await upInfrastructure('dry', cfg, h.clients, { ...FAST_WAITS, dryRun: true });
    expect(h.calls.length).toBeGreaterThan(0);
    expect(h.mutations()).toEqual([]);
    expect(counts(await discoverStack(h.clients.ec2, 'dry'))).toEqual({
      vpcs: 0,
      subnets: 0,
      internetGateways: 0,
      routeTables: 0,
      securityGroups: 0,
      keyPairs: 0,
      instances: 0,
    });
    expect(existsSync(cfg.keyPair.privateKeyFile)).toBe(false);
    const planned = result.changes.filter((c) => c.action === 'create').map((c) => c.resource);
    expect(planned).toEqual([
      'vpc',
      'subnet',
      'internet-gateway',
      'route-table',
      'local-key',
      'key-pair',
      'security-group',
      'instance',
    ]);
    expect(result.dryRun).toBe(true);
  });

  it('the guarded dry-run clients refuse a mutating call before it is sent', async () => {
    const cfg = awsConfig('guard', stacksDir);
    const h = harness(moto, cfg, true);
    await expect(upInfrastructure('guard', cfg, h.clients, FAST_WAITS)).rejects.toThrow(
      /dry run: refusing to send ec2:ImportKeyPair/,
    );
    expect(h.mutations()).toEqual([]);
  });
});

describe('EC2 layer against moto: resume after a run that died', () => {
  const networkCfg = (stack: string) =>
    awsConfig(stack, stacksDir, {
      network: { mode: 'new', vpcCidr: '10.60.0.0/16', subnetCidr: '10.60.1.0/24' },
    });

  it('after dying right after each mutating call, the next up converges with one of everything', async () => {
    // Count the mutating calls of a full run first.
    const probe = harness(moto, networkCfg('resume-probe'));
    await upInfrastructure('resume-probe', networkCfg('resume-probe'), probe.clients, FAST_WAITS);
    const steps = probe.mutations();
    expect(steps).toEqual([
      'CreateVpc',
      'ModifyVpcAttribute',
      'CreateSubnet',
      'ModifySubnetAttribute',
      'CreateInternetGateway',
      'AttachInternetGateway',
      'CreateRouteTable',
      'CreateRoute',
      'AssociateRouteTable',
      'ImportKeyPair',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
    ]);

    for (let k = 1; k <= steps.length; k++) {
      const stack = `resume-${k}`;
      const cfg = networkCfg(stack);
      const dying = harness(moto, cfg);
      dying.crashAfterMutation(k);
      await expect(
        upInfrastructure(stack, cfg, dying.clients, FAST_WAITS),
        `crash after ${steps[k - 1]}`,
      ).rejects.toThrow(/crash after/);

      const resumed = harness(moto, cfg);
      await upInfrastructure(stack, cfg, resumed.clients, FAST_WAITS);
      // The resumed run made exactly the calls the dead one did not get to.
      expect(resumed.mutations(), `resume after ${steps[k - 1]}`).toEqual(steps.slice(k));
      const found = await discoverStack(resumed.clients.ec2, stack);
      expect(counts(found), `resume after ${steps[k - 1]}`).toEqual({
        vpcs: 1,
        subnets: 1,
        internetGateways: 1,
        routeTables: 1,
        securityGroups: 1,
        keyPairs: 1,
        instances: 1,
      });
      expect(found.instances[0]?.State?.Name).toBe('running');
    }
  }, 300_000);

  it('starts a stopped instance instead of launching another', async () => {
    const cfg = awsConfig('stopped', stacksDir);
    const h = harness(moto, cfg);
    await upInfrastructure('stopped', cfg, h.clients, FAST_WAITS);
    const id = (await liveInstance(h, 'stopped')).InstanceId!;
    const { StopInstancesCommand } = await import('@aws-sdk/client-ec2');
    await h.clients.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const again = harness(moto, cfg);
    await upInfrastructure('stopped', cfg, again.clients, FAST_WAITS);
    expect(again.mutations()).toEqual(['StartInstances']);
    expect((await liveInstance(again, 'stopped')).State?.Name).toBe('running');
  });
});

describe('EC2 layer against moto: destroy', () => {
  it('removes everything the stack tagged, in dependency order, and nothing of another stack or the default VPC', async () => {
    const cfgA = awsConfig('gone', stacksDir, {
      network: { mode: 'new', vpcCidr: '10.70.0.0/16', subnetCidr: '10.70.1.0/24' },
    });
    const cfgB = awsConfig('stays', stacksDir, {
      network: { mode: 'new', vpcCidr: '10.71.0.0/16', subnetCidr: '10.71.1.0/24' },
    });
    await upInfrastructure('gone', cfgA, harness(moto, cfgA).clients, FAST_WAITS);
    await upInfrastructure('stays', cfgB, harness(moto, cfgB).clients, FAST_WAITS);
    const stays = counts(await discoverStack(harness(moto, cfgB).clients.ec2, 'stays'));
    const vpcsBefore = (await harness(moto, cfgA).clients.ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length;

    // A dry run of destroy lists the deletions and makes none.
    const dry = harness(moto, cfgA);
    const planned = await destroyStack('gone', cfgA, dry.clients, { ...FAST_WAITS, dryRun: true });
    expect(dry.mutations()).toEqual([]);
    expect(planned.changes.filter((c) => c.action === 'delete').map((c) => c.resource)).toEqual([
      'instance',
      'key-pair',
      'security-group',
      'route-table',
      'internet-gateway',
      'subnet',
      'vpc',
    ]);

    const h = harness(moto, cfgA);
    const result = await destroyStack('gone', cfgA, h.clients, {
      ...FAST_WAITS,
      deleteLocal: true,
      env: { UPDRAFT_HOME: stacksDir },
    });
    expect(h.mutations()).toEqual([
      'TerminateInstances',
      'DeleteKeyPair',
      'DeleteSecurityGroup',
      'DisassociateRouteTable',
      'DeleteRouteTable',
      'DetachInternetGateway',
      'DeleteInternetGateway',
      'DeleteSubnet',
      'DeleteVpc',
    ]);
    expect(result.localFolder.deleted).toBe(true);
    expect(existsSync(cfgA.keyPair.privateKeyFile)).toBe(false);

    // Nothing that ever carried the stack's tag still exists, but the terminated instance record
    // EC2 keeps for a while. (moto's tag index keeps deleted resources' tags, so each is checked.)
    const tags = await h.clients.ec2.send(
      new DescribeTagsCommand({
        Filters: [
          { Name: 'key', Values: [TAG_STACK] },
          { Name: 'value', Values: ['gone'] },
        ],
      }),
    );
    const tagged = [...new Set((tags.Tags ?? []).map((t) => `${t.ResourceType}:${t.ResourceId}`))];
    expect(tagged.map((t) => t.split(':')[0]).sort()).toEqual([
      'instance',
      'internet-gateway',
      'key-pair',
      'route-table',
      'security-group',
      'subnet',
      'volume',
      'vpc',
    ]);
    for (const resource of tagged) expect(await stillExists(h.clients.ec2, resource), resource).toBe(false);
    expect(counts(await discoverStack(h.clients.ec2, 'gone'))).toEqual({
      vpcs: 0,
      subnets: 0,
      internetGateways: 0,
      routeTables: 0,
      securityGroups: 0,
      keyPairs: 0,
      instances: 0,
    });

    // The other stack and the default VPC are untouched.
    expect(counts(await discoverStack(h.clients.ec2, 'stays'))).toEqual(stays);
    const vpcsAfter = await h.clients.ec2.send(new DescribeVpcsCommand({}));
    expect(vpcsAfter.Vpcs!.length).toBe(vpcsBefore - 1);
    expect(vpcsAfter.Vpcs!.some((v) => v.IsDefault)).toBe(true);
    const groups = await h.clients.ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [{ Name: 'group-name', Values: ['updraft-gone-security-group'] }],
      }),
    );
    expect(groups.SecurityGroups).toEqual([]);

    // Destroying again finds nothing and does nothing.
    const twice = harness(moto, cfgA);
    await destroyStack('gone', cfgA, twice.clients, FAST_WAITS);
    expect(twice.mutations()).toEqual([]);
  });
});
