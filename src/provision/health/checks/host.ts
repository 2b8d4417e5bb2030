import { OS_FAMILIES } from '../../engine/facts.js';
import { sq } from '../../remote/shell.js';
import type { Check, CheckResult } from '../types.js';

/** Below this share of free space (or 2 GiB) on the node's folders a warning is given; repair cannot free disk. */
const DISK_WARN_FREE_RATIO = 0.1;
const DISK_WARN_FREE_BYTES = 2 * 1024 ** 3;
const MEMORY_WARN_AVAILABLE_RATIO = 0.1;
/** Clock skew beyond which heartbeats and signed log tokens go wrong. */
const SKEW_WARN_MS = 5_000;
const SKEW_FAIL_MS = 60_000;

export interface DiskUsage {
  mount: string;
  sizeKb: number;
  availKb: number;
}

/** `df -Pk` lines to one usage per mount point (several checked folders may share one). */
export function parseDf(output: string): DiskUsage[] {
  const byMount = new Map<string, DiskUsage>();
  for (const line of output.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 6 || !/^\d+$/.test(cols[1] ?? '')) continue;
    const mount = cols.slice(5).join(' ');
    byMount.set(mount, { mount, sizeKb: Number(cols[1]), availKb: Number(cols[3]) });
  }
  return [...byMount.values()];
}

/** Disk headroom is a warning at most: repair cannot free space without deleting someone's data. */
export function diskFinding(usages: DiskUsage[]): CheckResult {
  const parts = usages.map((u) => {
    const ratio = u.sizeKb > 0 ? u.availKb / u.sizeKb : 0;
    const low = ratio < DISK_WARN_FREE_RATIO || u.availKb * 1024 < DISK_WARN_FREE_BYTES;
    const size = (kb: number) =>
      kb >= 1024 ** 2 ? `${(kb / 1024 ** 2).toFixed(1)} GiB` : `${(kb / 1024).toFixed(0)} MiB`;
    return {
      low,
      text: `${u.mount} ${size(u.availKb)} free of ${size(u.sizeKb)} (${Math.round(ratio * 100)}%)`,
    };
  });
  const low = parts.filter((p) => p.low);
  return {
    id: 'host.disk',
    group: 'host',
    status: low.length > 0 ? 'warn' : 'ok',
    finding:
      low.length > 0
        ? `disk nearly full: ${low.map((p) => p.text).join('; ')}; free space (old task logs, package caches) or grow the volume`
        : `disk: ${parts.map((p) => p.text).join('; ')}`,
  };
}

/** SSH reachability is proven by the connection the checks run on; these read the OS, disk, memory and clock. */
export const hostChecks: Check = async (ctx) => {
  const results: CheckResult[] = [];
  const label = OS_FAMILIES[ctx.facts.family].label;
  results.push({
    id: 'host.ssh',
    group: 'host',
    status: 'ok',
    finding: `reachable as ${ctx.host.label}`,
    durationMs: ctx.timings.connectMs,
  });
  results.push(
    ctx.facts.family === 'al2'
      ? {
          id: 'host.os',
          group: 'host',
          status: 'warn',
          finding: `${ctx.facts.prettyName}: Amazon Linux 2 reached end of support on 2026-06-30; move to a new host with the current profile (Amazon Linux 2023)`,
          durationMs: ctx.timings.factsMs,
        }
      : {
          id: 'host.os',
          group: 'host',
          status: 'ok',
          finding: `${ctx.facts.prettyName} (${label}, supported)`,
          durationMs: ctx.timings.factsMs,
        },
  );

  const home = ctx.stack.airflow.home;
  const probed = results.length;
  const before = Date.now();
  const probe = await ctx.host.exec(
    // The node's home, its task logs (often a volume of their own) and the root file system.
    `date +%s%3N; df -Pk / ${sq(home)} ${sq(`${home}/logs`)} 2>/dev/null; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo`,
    { quiet: true, allowFailure: true },
  );
  const after = Date.now();
  const lines = probe.stdout.trim().split('\n');
  const remoteMs = Number(lines[0]);
  if (Number.isFinite(remoteMs)) {
    // The remote clock was read somewhere between before and after: compare with the midpoint.
    const skew = remoteMs - (before + after) / 2;
    const abs = Math.abs(skew);
    const uncertainty = (after - before) / 2;
    const shown = `${(skew / 1000).toFixed(1)} s (±${(uncertainty / 1000).toFixed(1)} s)`;
    results.push({
      id: 'host.clock',
      group: 'host',
      status: abs - uncertainty > SKEW_FAIL_MS ? 'fail' : abs - uncertainty > SKEW_WARN_MS ? 'warn' : 'ok',
      finding:
        abs - uncertainty > SKEW_WARN_MS
          ? `clock differs from this machine's by ${shown}; enable time sync on the host (chronyd or systemd-timesyncd)`
          : `clock within ${shown} of this machine's`,
    });
  }
  const usages = parseDf(probe.stdout);
  if (usages.length > 0) results.push(diskFinding(usages));
  const mem = new Map(
    lines.filter((l) => l.startsWith('Mem')).map((l) => [l.split(':')[0], Number(l.split(/\s+/)[1])]),
  );
  const total = mem.get('MemTotal');
  const available = mem.get('MemAvailable');
  if (total && available !== undefined) {
    const ratio = available / total;
    results.push({
      id: 'host.memory',
      group: 'host',
      status: ratio < MEMORY_WARN_AVAILABLE_RATIO ? 'warn' : 'ok',
      finding: `${(available / 1024 ** 2).toFixed(1)} GiB of ${(total / 1024 ** 2).toFixed(1)} GiB memory available`,
    });
  }
  // Clock, disk and memory come from the one probe.
  return results.map((r, i) => (i < probed ? r : { ...r, durationMs: after - before }));
};
