import {
  DescribeInstancesCommand,
  DescribeInternetGatewaysCommand,
  DescribeKeyPairsCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type Filter,
  type Instance,
  type InternetGateway,
  type KeyPairInfo,
  type RouteTable,
  type SecurityGroup,
  type Subnet,
  type Vpc,
} from '@aws-sdk/client-ec2';
import { TAG_STACK } from './session.js';

/**
 * What a stack owns, found by its `updraft:stack` tag and nothing else: no local state file can
 * go stale or be lost, and a run that died halfway is picked up by the next one.
 */
export interface StackResources {
  vpcs: Vpc[];
  subnets: Subnet[];
  internetGateways: InternetGateway[];
  routeTables: RouteTable[];
  securityGroups: SecurityGroup[];
  keyPairs: KeyPairInfo[];
  /** Instances that are not terminated (pending, running, stopping, stopped, shutting-down). */
  instances: Instance[];
}

export const LIVE_INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down'];

export function stackFilter(stack: string): Filter[] {
  return [{ Name: `tag:${TAG_STACK}`, Values: [stack] }];
}

export function tagValue(
  tags: { Key?: string; Value?: string }[] | undefined,
  key: string,
): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

export async function findInstances(
  ec2: EC2Client,
  stack: string,
  states = LIVE_INSTANCE_STATES,
): Promise<Instance[]> {
  const instances: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [...stackFilter(stack), { Name: 'instance-state-name', Values: states }],
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    for (const r of page.Reservations ?? []) instances.push(...(r.Instances ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  // Oldest first, so "the" instance of a stack is stable if a race ever made two.
  return instances.sort((a, b) => (a.LaunchTime?.getTime() ?? 0) - (b.LaunchTime?.getTime() ?? 0));
}

export async function discoverStack(ec2: EC2Client, stack: string): Promise<StackResources> {
  const Filters = stackFilter(stack);
  const [vpcs, subnets, igws, routeTables, groups, keyPairs, instances] = await Promise.all([
    ec2.send(new DescribeVpcsCommand({ Filters })),
    ec2.send(new DescribeSubnetsCommand({ Filters })),
    ec2.send(new DescribeInternetGatewaysCommand({ Filters })),
    ec2.send(new DescribeRouteTablesCommand({ Filters })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters })),
    ec2.send(new DescribeKeyPairsCommand({ Filters, IncludePublicKey: true })),
    findInstances(ec2, stack),
  ]);
  return {
    vpcs: vpcs.Vpcs ?? [],
    subnets: subnets.Subnets ?? [],
    internetGateways: igws.InternetGateways ?? [],
    routeTables: routeTables.RouteTables ?? [],
    securityGroups: groups.SecurityGroups ?? [],
    keyPairs: keyPairs.KeyPairs ?? [],
    instances,
  };
}

export function isEmpty(resources: StackResources): boolean {
  return Object.values(resources).every((list: unknown[]) => list.length === 0);
}
