import type { AwsSection } from './config.js';
import { OS_PROFILES } from './config.js';
import type { Change } from './session.js';
import type { StackOutputs } from './stack-ops.js';

/**
 * What a person reads: the plan, the cost class, the outputs. Prices are us-east-1 on-demand
 * list prices (Linux) as of 2026; other regions differ by up to ~30%, so the class, not the cent,
 * is the message.
 */
const HOURLY_USD: Record<string, number> = {
  't3.medium': 0.0416,
  't2.large': 0.0928,
  't3.large': 0.0832,
  't3a.large': 0.0752,
  't4g.large': 0.0672,
  't2.xlarge': 0.1856,
  't3.xlarge': 0.1664,
  't4g.xlarge': 0.1344,
  'm5.large': 0.096,
  'm6i.large': 0.096,
  'm7g.large': 0.0816,
  'm5.xlarge': 0.192,
  'm6i.xlarge': 0.192,
};
const GP3_GIB_MONTH = 0.08;
const PUBLIC_IPV4_HOUR = 0.005;
const HOURS_PER_MONTH = 730;

export interface CostEstimate {
  /** `$`: under $50/month, `$$`: under $150, `$$$`: more; `?` for a type not in the table. */
  costClass: '$' | '$$' | '$$$' | '?';
  monthlyUsd?: number;
  lines: string[];
}

export function estimateCost(cfg: Pick<AwsSection, 'instanceType' | 'rootVolumeGiB'>): CostEstimate {
  const hourly = HOURLY_USD[cfg.instanceType];
  const volume = cfg.rootVolumeGiB * GP3_GIB_MONTH;
  const ipv4 = PUBLIC_IPV4_HOUR * HOURS_PER_MONTH;
  const lines = [
    hourly === undefined
      ? `${cfg.instanceType}: price not in Updraft's table (see the EC2 pricing page)`
      : `${cfg.instanceType}: $${hourly.toFixed(4)}/hour, about $${(hourly * HOURS_PER_MONTH).toFixed(0)}/month if left running`,
    `${cfg.rootVolumeGiB} GiB gp3 root volume: about $${volume.toFixed(2)}/month`,
    `public IPv4 address: about $${ipv4.toFixed(2)}/month`,
    'data transfer out is extra; a new VPC, its subnet, gateway and route table cost nothing',
  ];
  if (hourly === undefined) return { costClass: '?', lines };
  const monthlyUsd = Math.round(hourly * HOURS_PER_MONTH + volume + ipv4);
  const costClass = monthlyUsd < 50 ? '$' : monthlyUsd < 150 ? '$$' : '$$$';
  return { costClass, monthlyUsd, lines };
}

const SYMBOL: Record<Change['action'], string> = {
  create: '+',
  update: '~',
  start: '>',
  delete: '-',
  keep: '=',
  use: '.',
};

export function renderChanges(changes: Change[]): string[] {
  return changes.map((c) =>
    `  ${SYMBOL[c.action]} ${c.action.padEnd(6)} ${c.resource.padEnd(16)} ${c.id ? `${c.id} ` : ''}${c.detail}`.trimEnd(),
  );
}

export function renderPlanHeader(name: string, cfg: AwsSection): string[] {
  const os = OS_PROFILES[cfg.os];
  const cost = estimateCost(cfg);
  return [
    `Stack ${name} in ${cfg.region}${cfg.profile ? ` (AWS profile ${cfg.profile})` : ''}`,
    `  instance      ${cfg.instanceType}, ${cfg.architecture}, ${cfg.rootVolumeGiB} GiB gp3 encrypted, IMDSv2 required`,
    `  OS profile    ${os.label}${os.endOfLife ? ` — END OF LIFE: ${os.endOfLife}` : ''}`,
    `  network       ${cfg.network.mode === 'default' ? 'the default VPC, a public subnet' : `a new VPC ${cfg.network.vpcCidr}, public subnet ${cfg.network.subnetCidr}`}`,
    `  SSH and web   tcp/22 and tcp/${cfg.webPort} from ${cfg.allowedCidrs.join(', ')}; Redis and MySQL only within the group`,
    `  key pair      ${cfg.keyPair.name} (${cfg.keyPair.mode === 'create' ? `new ${cfg.keyPair.type}, saved to ${cfg.keyPair.privateKeyFile}` : `import ${cfg.keyPair.publicKeyFile}`})`,
    `  cost class    ${cost.costClass}${cost.monthlyUsd !== undefined ? ` (about $${cost.monthlyUsd}/month on demand, us-east-1 prices)` : ''}`,
    ...cost.lines.map((l) => `                ${l}`),
  ];
}

export function renderOutputs(o: StackOutputs): string[] {
  if (!o.exists) return [`Stack ${o.stack} has no resources in ${o.region}.`];
  const lines = [`Stack ${o.stack} in ${o.region}`];
  const row = (k: string, v: string | undefined) => {
    if (v) lines.push(`  ${k.padEnd(14)}${v}`);
  };
  row(
    'instance',
    o.instanceId ? `${o.instanceId} (${o.instanceType ?? '?'}, ${o.availabilityZone ?? '?'})` : 'none',
  );
  row('state', o.state);
  row('public IP', o.publicIp);
  row('public DNS', o.publicDns);
  row('private IP', o.privateIp);
  row('URL', o.url);
  row('SSH', o.ssh?.command);
  if (o.health)
    row('health', `system ${o.health.system ?? 'unknown'}, instance ${o.health.instance ?? 'unknown'}`);
  const other = Object.entries(o.resources)
    .filter(([k, ids]) => k !== 'instances' && ids.length > 0)
    .map(([k, ids]) => `${k} ${ids.join(' ')}`);
  if (other.length) row('resources', other.join('; '));
  return lines;
}
