import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import type { StackResources } from './discovery.js';
import type { StackSession } from './session.js';

/**
 * The stack's security group. SSH and the web UI are open to the allowed CIDRs only; Redis and
 * MySQL are open to members of this same group only (future worker nodes join it), never to an
 * address range — so there is no way to publish the broker or the database from a stack file.
 */
export const REDIS_PORT = 6379;
export const MYSQL_PORT = 3306;

/** One ingress rule, flattened: a TCP port from either a CIDR or the group itself. */
export interface IngressRule {
  port: number;
  source: { cidr: string } | { self: true };
  description: string;
}

export function desiredIngress(allowedCidrs: string[], webPort: number): IngressRule[] {
  const fromCidrs = (port: number, what: string) =>
    allowedCidrs.map((cidr) => ({ port, source: { cidr }, description: `${what} from an allowed address` }));
  return [
    ...fromCidrs(22, 'SSH'),
    ...fromCidrs(webPort, 'Updraft web UI'),
    { port: REDIS_PORT, source: { self: true }, description: 'Redis from nodes of this stack' },
    { port: MYSQL_PORT, source: { self: true }, description: 'MySQL from nodes of this stack' },
  ];
}

export function ruleKey(rule: IngressRule): string {
  return `${rule.port}:${'cidr' in rule.source ? rule.source.cidr : 'self'}`;
}

/** The group's current ingress as flat rules; anything we would never write maps to an "other" key so it gets revoked. */
export function currentIngress(group: SecurityGroup): { key: string; permission: IpPermission }[] {
  const out: { key: string; permission: IpPermission }[] = [];
  for (const p of group.IpPermissions ?? []) {
    const base = { IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort };
    const portKey =
      p.IpProtocol === 'tcp' && p.FromPort === p.ToPort
        ? String(p.FromPort)
        : `${p.IpProtocol}:${p.FromPort}-${p.ToPort}`;
    for (const range of p.IpRanges ?? []) {
      out.push({
        key: `${portKey}:${range.CidrIp}`,
        permission: { ...base, IpRanges: [{ CidrIp: range.CidrIp }] },
      });
    }
    for (const pair of p.UserIdGroupPairs ?? []) {
      const self = pair.GroupId === group.GroupId;
      out.push({
        key: `${portKey}:${self ? 'self' : `group:${pair.GroupId}`}`,
        permission: { ...base, UserIdGroupPairs: [{ GroupId: pair.GroupId }] },
      });
    }
    for (const range of p.Ipv6Ranges ?? []) {
      out.push({
        key: `${portKey}:${range.CidrIpv6}`,
        permission: { ...base, Ipv6Ranges: [{ CidrIpv6: range.CidrIpv6 }] },
      });
    }
    for (const list of p.PrefixListIds ?? []) {
      out.push({
        key: `${portKey}:${list.PrefixListId}`,
        permission: { ...base, PrefixListIds: [{ PrefixListId: list.PrefixListId }] },
      });
    }
  }
  return out;
}

function toPermission(rule: IngressRule, groupId: string): IpPermission {
  const base = { IpProtocol: 'tcp', FromPort: rule.port, ToPort: rule.port };
  return 'cidr' in rule.source
    ? { ...base, IpRanges: [{ CidrIp: rule.source.cidr, Description: rule.description }] }
    : { ...base, UserIdGroupPairs: [{ GroupId: groupId, Description: rule.description }] };
}

export async function ensureSecurityGroup(
  s: StackSession,
  found: StackResources,
  vpcId: string | undefined,
): Promise<string | undefined> {
  const existing = found.securityGroups.find((g) => g.VpcId === vpcId);
  let groupId = existing?.GroupId;
  if (existing && groupId) {
    s.note({ action: 'keep', resource: 'security-group', id: groupId, detail: existing.GroupName ?? '' });
  } else {
    const created = await s.mutate(
      {
        action: 'create',
        resource: 'security-group',
        detail: `${s.resourceName('security-group')} in ${vpcId ?? 'the new VPC'}`,
      },
      () =>
        s.ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: s.resourceName('security-group'),
            Description: `Updraft stack ${s.stack}: SSH and web from allowed addresses, Redis and MySQL within the group`,
            VpcId: vpcId!,
            TagSpecifications: s.tagSpec('security-group', 'security-group'),
          }),
        ),
      (r) => r.GroupId,
    );
    groupId = created?.GroupId;
  }

  const desired = desiredIngress(s.cfg.allowedCidrs, s.cfg.webPort);
  const current = existing ? currentIngress(existing) : [];
  const currentKeys = new Set(current.map((c) => c.key));
  const desiredKeys = new Set(desired.map(ruleKey));
  const missing = desired.filter((r) => !currentKeys.has(ruleKey(r)));
  const extra = current.filter((c) => !desiredKeys.has(c.key));

  if (missing.length > 0) {
    await s.mutate(
      {
        action: 'update',
        resource: 'security-group',
        ...(groupId ? { id: groupId } : {}),
        detail: `allow ${missing.map(describeRule).join(', ')}`,
      },
      () =>
        s.ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId!,
            IpPermissions: missing.map((r) => toPermission(r, groupId!)),
          }),
        ),
    );
  }
  if (extra.length > 0 && groupId) {
    await s.mutate(
      {
        action: 'update',
        resource: 'security-group',
        id: groupId,
        detail: `revoke ${extra.map((e) => e.key.replace(/^(\d+):/, 'tcp/$1 from ')).join(', ')}`,
      },
      () =>
        s.ec2.send(
          new RevokeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: extra.map((e) => e.permission),
          }),
        ),
    );
  }
  return groupId;
}

function describeRule(rule: IngressRule): string {
  return `tcp/${rule.port} from ${'cidr' in rule.source ? rule.source.cidr : 'the group itself'}`;
}
