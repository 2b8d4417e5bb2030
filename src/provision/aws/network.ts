import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeSubnetsCommand,
  DescribeVpcAttributeCommand,
  DescribeVpcsCommand,
  ModifySubnetAttributeCommand,
  ModifyVpcAttributeCommand,
  ReplaceRouteCommand,
  type EC2Client,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { StackResources } from './discovery.js';
import type { StackSession } from './session.js';

/** Where the instance goes: a VPC and, in order of preference, subnets to launch into. */
export interface NetworkPlacement {
  /** Undefined only in a dry run that would create the VPC. */
  vpcId?: string;
  /** Candidate subnets, each in a zone that offers the instance type; the first is preferred. */
  subnets: { subnetId?: string; availabilityZone: string }[];
  mode: 'default' | 'new';
}

/** Zones of the region where the instance type is offered, sorted by name. */
export async function zonesOffering(ec2: EC2Client, instanceType: string): Promise<string[]> {
  const zones: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone',
        Filters: [{ Name: 'instance-type', Values: [instanceType] }],
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    for (const o of page.InstanceTypeOfferings ?? []) if (o.Location) zones.push(o.Location);
    NextToken = page.NextToken;
  } while (NextToken);
  return zones.sort();
}

async function offeredZones(s: StackSession): Promise<string[]> {
  const zones = await zonesOffering(s.ec2, s.cfg.instanceType);
  if (zones.length === 0) {
    throw new ValidationError(
      `${s.cfg.instanceType} is not offered in any zone of ${s.cfg.region}. Use t3.large (2 vCPU, 8 GiB) ` +
        `where t2 is not offered, or another type (aws.instanceType).`,
    );
  }
  if (s.cfg.availabilityZone && !zones.includes(s.cfg.availabilityZone)) {
    throw new ValidationError(
      `${s.cfg.instanceType} is not offered in ${s.cfg.availabilityZone}; zones that offer it: ${zones.join(', ')}`,
    );
  }
  return zones;
}

export async function ensureNetwork(s: StackSession, found: StackResources): Promise<NetworkPlacement> {
  const zones = await offeredZones(s);
  return s.cfg.network.mode === 'default' ? useDefaultVpc(s, zones) : ensureNewVpc(s, found, zones);
}

async function useDefaultVpc(s: StackSession, zones: string[]): Promise<NetworkPlacement> {
  const vpcs = await s.ec2.send(
    new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }),
  );
  const vpcId = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpcId) {
    throw new NotFoundError(
      `${s.cfg.region} has no default VPC. Set aws.network.mode: new to make a VPC for this stack, or create a ` +
        `default VPC (aws ec2 create-default-vpc).`,
    );
  }
  const subnets = await s.ec2.send(
    new DescribeSubnetsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'default-for-az', Values: ['true'] },
      ],
    }),
  );
  const usable = (subnets.Subnets ?? [])
    .filter((sn): sn is Subnet & { SubnetId: string; AvailabilityZone: string } =>
      Boolean(sn.SubnetId && sn.AvailabilityZone && zones.includes(sn.AvailabilityZone)),
    )
    .sort((a, b) => a.AvailabilityZone.localeCompare(b.AvailabilityZone));
  // The preferred zone first; the others stay as fallbacks for InsufficientInstanceCapacity.
  const preferred = s.cfg.availabilityZone;
  const ordered = preferred ? usable.filter((sn) => sn.AvailabilityZone === preferred) : usable;
  if (ordered.length === 0) {
    throw new NotFoundError(
      `the default VPC ${vpcId} has no default subnet in a zone offering ${s.cfg.instanceType}` +
        `${preferred ? ` (${preferred})` : ''}. Use aws.network.mode: new.`,
    );
  }
  s.note({ action: 'use', resource: 'vpc', id: vpcId, detail: 'the default VPC' });
  return {
    vpcId,
    mode: 'default',
    subnets: ordered.map((sn) => ({ subnetId: sn.SubnetId, availabilityZone: sn.AvailabilityZone })),
  };
}

async function ensureNewVpc(
  s: StackSession,
  found: StackResources,
  zones: string[],
): Promise<NetworkPlacement> {
  const { vpcCidr, subnetCidr } = s.cfg.network;

  // VPC, with DNS hostnames so the instance gets a public DNS name.
  let vpcId = found.vpcs[0]?.VpcId;
  if (vpcId) {
    s.note({ action: 'keep', resource: 'vpc', id: vpcId, detail: found.vpcs[0]?.CidrBlock ?? '' });
  } else {
    const created = await s.mutate(
      { action: 'create', resource: 'vpc', detail: `${vpcCidr}, DNS hostnames on` },
      () =>
        s.ec2.send(new CreateVpcCommand({ CidrBlock: vpcCidr, TagSpecifications: s.tagSpec('vpc', 'vpc') })),
      (r) => r.Vpc?.VpcId,
    );
    vpcId = created?.Vpc?.VpcId;
  }
  if (vpcId && found.vpcs.length > 0) {
    const [support, hostnames] = await Promise.all([
      s.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsSupport' })),
      s.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsHostnames' })),
    ]);
    if (!support.EnableDnsSupport?.Value) await enableDns(s, vpcId, 'support');
    if (!hostnames.EnableDnsHostnames?.Value) await enableDns(s, vpcId, 'hostnames');
  } else if (vpcId) {
    // Just created: DNS support is on by default, hostnames are not.
    await enableDns(s, vpcId, 'hostnames');
  } else {
    s.note({ action: 'update', resource: 'vpc', detail: 'enable DNS hostnames' });
  }

  // Public subnet in a zone that offers the instance type.
  const existingSubnet = found.subnets.find((sn) => sn.VpcId === vpcId);
  let subnetId = existingSubnet?.SubnetId;
  let availabilityZone = existingSubnet?.AvailabilityZone ?? s.cfg.availabilityZone ?? zones[0]!;
  if (existingSubnet && subnetId) {
    s.note({
      action: 'keep',
      resource: 'subnet',
      id: subnetId,
      detail: `${existingSubnet.CidrBlock} in ${availabilityZone}`,
    });
    if (!zones.includes(availabilityZone)) {
      throw new ValidationError(
        `this stack's subnet ${subnetId} is in ${availabilityZone}, where ${s.cfg.instanceType} is not offered. ` +
          `Destroy the stack and bring it up again, or choose a type offered there.`,
      );
    }
  } else {
    const created = await s.mutate(
      {
        action: 'create',
        resource: 'subnet',
        detail: `${subnetCidr} in ${availabilityZone}, public IPs on launch`,
      },
      () =>
        s.ec2.send(
          new CreateSubnetCommand({
            VpcId: vpcId!,
            CidrBlock: subnetCidr,
            AvailabilityZone: availabilityZone,
            TagSpecifications: s.tagSpec('subnet', 'subnet'),
          }),
        ),
      (r) => r.Subnet?.SubnetId,
    );
    subnetId = created?.Subnet?.SubnetId;
    availabilityZone = created?.Subnet?.AvailabilityZone ?? availabilityZone;
  }
  if (!existingSubnet?.MapPublicIpOnLaunch) {
    await s.mutate(
      {
        action: 'update',
        resource: 'subnet',
        ...(subnetId ? { id: subnetId } : {}),
        detail: 'map public IPs on launch',
      },
      () =>
        s.ec2.send(
          new ModifySubnetAttributeCommand({ SubnetId: subnetId!, MapPublicIpOnLaunch: { Value: true } }),
        ),
    );
  }

  // Internet gateway, attached to the VPC.
  const existingIgw = found.internetGateways[0];
  let igwId = existingIgw?.InternetGatewayId;
  if (igwId) s.note({ action: 'keep', resource: 'internet-gateway', id: igwId, detail: '' });
  else {
    const created = await s.mutate(
      { action: 'create', resource: 'internet-gateway', detail: 'attached to the VPC' },
      () =>
        s.ec2.send(
          new CreateInternetGatewayCommand({
            TagSpecifications: s.tagSpec('internet-gateway', 'internet-gateway'),
          }),
        ),
      (r) => r.InternetGateway?.InternetGatewayId,
    );
    igwId = created?.InternetGateway?.InternetGatewayId;
  }
  const attached = existingIgw?.Attachments?.some((a) => a.VpcId === vpcId && a.State !== 'detaching');
  if (!attached) {
    await s.mutate(
      {
        action: 'update',
        resource: 'internet-gateway',
        ...(igwId ? { id: igwId } : {}),
        detail: `attach to ${vpcId ?? 'the new VPC'}`,
      },
      () => s.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igwId!, VpcId: vpcId! })),
    );
  }

  // Route table: 0.0.0.0/0 through the gateway, associated with the subnet.
  const existingRt = found.routeTables.find((rt) => rt.VpcId === vpcId);
  let routeTableId = existingRt?.RouteTableId;
  if (routeTableId) s.note({ action: 'keep', resource: 'route-table', id: routeTableId, detail: '' });
  else {
    const created = await s.mutate(
      {
        action: 'create',
        resource: 'route-table',
        detail: '0.0.0.0/0 to the internet gateway, for the subnet',
      },
      () =>
        s.ec2.send(
          new CreateRouteTableCommand({
            VpcId: vpcId!,
            TagSpecifications: s.tagSpec('route-table', 'route-table'),
          }),
        ),
      (r) => r.RouteTable?.RouteTableId,
    );
    routeTableId = created?.RouteTable?.RouteTableId;
  }
  const defaultRoute = existingRt?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0');
  if (!defaultRoute || defaultRoute.GatewayId !== igwId || defaultRoute.State === 'blackhole') {
    const Command = defaultRoute ? ReplaceRouteCommand : CreateRouteCommand;
    await s.mutate(
      {
        action: 'update',
        resource: 'route-table',
        ...(routeTableId ? { id: routeTableId } : {}),
        detail: 'route 0.0.0.0/0 to the internet gateway',
      },
      () =>
        s.ec2.send(
          new Command({ RouteTableId: routeTableId!, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igwId! }),
        ),
    );
  }
  const associated = existingRt?.Associations?.some((a) => a.SubnetId === subnetId);
  if (!associated) {
    await s.mutate(
      {
        action: 'update',
        resource: 'route-table',
        ...(routeTableId ? { id: routeTableId } : {}),
        detail: 'associate with the subnet',
      },
      () => s.ec2.send(new AssociateRouteTableCommand({ RouteTableId: routeTableId!, SubnetId: subnetId! })),
    );
  }

  return { vpcId, mode: 'new', subnets: [{ ...(subnetId ? { subnetId } : {}), availabilityZone }] };
}

async function enableDns(s: StackSession, vpcId: string, which: 'support' | 'hostnames'): Promise<void> {
  await s.mutate({ action: 'update', resource: 'vpc', id: vpcId, detail: `enable DNS ${which}` }, () =>
    s.ec2.send(
      new ModifyVpcAttributeCommand(
        which === 'support'
          ? { VpcId: vpcId, EnableDnsSupport: { Value: true } }
          : { VpcId: vpcId, EnableDnsHostnames: { Value: true } },
      ),
    ),
  );
}
