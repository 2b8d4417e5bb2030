import { Redis } from 'ioredis';
import { REDIS_LAYOUT } from '../../playbooks/redis.js';
import { errorMessage } from '../../../errors.js';
import type { Endpoint } from '../../remote/types.js';
import type { Check, CheckResult, HealthContext } from '../types.js';
import { journal, unitState } from './systemd.js';

function client(endpoint: Endpoint, password?: string): Redis {
  const where =
    endpoint.kind === 'tcp' ? { host: endpoint.host, port: endpoint.port } : { path: endpoint.path };
  return new Redis({
    ...where,
    ...(password !== undefined ? { password } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    retryStrategy: () => null,
  });
}

/** Run one command on a fresh connection; the error's message when Redis refuses. */
async function ask(
  endpoint: Endpoint,
  password: string | undefined,
  command: (r: Redis) => Promise<unknown>,
): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const r = client(endpoint, password);
  r.on('error', () => {});
  try {
    await r.connect();
    return { ok: true, value: await command(r) };
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  } finally {
    r.disconnect();
  }
}

/** Addresses a TCP port listens on, from `ss` (the kernel's view, not the config file's). */
export function listenAddresses(ssOutput: string, port: number): string[] {
  const out: string[] = [];
  for (const line of ssOutput.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[3];
    if (!local) continue;
    const i = local.lastIndexOf(':');
    if (local.slice(i + 1) === String(port))
      out.push(
        local
          .slice(0, i)
          .replace(/^\[|\]$/g, '')
          .replace(/%.*$/, ''),
      );
  }
  return out;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);

async function listening(ctx: HealthContext, port: number): Promise<CheckResult> {
  const ss = await ctx.host.exec(`ss -ltnH 'sport = :${port}'`, { quiet: true, allowFailure: true });
  const addresses = listenAddresses(ss.stdout, port);
  const allowed = new Set([
    ...LOOPBACK,
    ...(ctx.stack.redis.private_address ? [ctx.stack.redis.private_address] : []),
  ]);
  const extra = addresses.filter((a) => !allowed.has(a));
  if (addresses.length === 0)
    return {
      id: 'redis.listen',
      group: 'redis',
      status: 'fail',
      finding: `nothing listens on port ${port}`,
      fix: 'redis-service',
    };
  return extra.length > 0
    ? {
        id: 'redis.listen',
        group: 'redis',
        status: 'fail',
        finding: `Redis listens on ${extra.join(', ')} beyond loopback${ctx.stack.redis.private_address ? ' and the private address' : ''}`,
        evidence: ss.stdout.trim(),
        fix: 'redis-config',
      }
    : {
        id: 'redis.listen',
        group: 'redis',
        status: 'ok',
        finding: `listens on ${addresses.join(', ')} only`,
      };
}

export const redisChecks: Check = async (ctx) => {
  const layout = REDIS_LAYOUT[ctx.facts.family];
  const port = ctx.stack.redis.port;
  const results: CheckResult[] = [];
  const unit = await unitState(ctx.host, layout.service);
  if (unit.active !== 'active') {
    results.push({
      id: 'redis.service',
      group: 'redis',
      status: 'fail',
      finding: `${layout.service} is ${unit.active} (${unit.enabled} at boot)`,
      evidence: await journal(ctx.host, layout.service),
      fix: 'redis-service',
    });
    return results;
  }
  results.push({
    id: 'redis.service',
    group: 'redis',
    status: 'ok',
    finding: `${layout.service} active, ${unit.enabled} at boot`,
  });
  results.push(await listening(ctx, port));

  const reach = await ctx.host.reach({ port });
  try {
    const ping = await ask(reach.endpoint, ctx.secrets.redis_password, (r) => r.ping());
    results.push(
      ping.ok
        ? {
            id: 'redis.auth',
            group: 'redis',
            status: 'ok',
            finding: `answers PING with the stack's password`,
          }
        : {
            id: 'redis.auth',
            group: 'redis',
            status: 'fail',
            finding: `refuses the stack's password: the scheduler and workers cannot reach the broker`,
            evidence: ctx.mask(ping.error),
            fix: 'redis-config',
          },
    );
    const anonymous = await ask(reach.endpoint, undefined, (r) => r.ping());
    results.push(
      anonymous.ok
        ? {
            id: 'redis.noauth',
            group: 'redis',
            status: 'fail',
            finding: 'answers clients without a password (anyone who reaches it can read or flush the queue)',
            fix: 'redis-config',
          }
        : { id: 'redis.noauth', group: 'redis', status: 'ok', finding: 'refuses unauthenticated clients' },
    );
    if (ping.ok) {
      const save = await ask(reach.endpoint, ctx.secrets.redis_password, (r) => r.config('GET', 'save'));
      const aof = await ask(reach.endpoint, ctx.secrets.redis_password, (r) => r.config('GET', 'appendonly'));
      const saveValue = save.ok ? String((save.value as string[])[1] ?? '') : '';
      const aofValue = aof.ok ? String((aof.value as string[])[1] ?? '') : '';
      results.push({
        id: 'redis.persistence',
        group: 'redis',
        status: 'ok',
        finding:
          saveValue === '' && aofValue !== 'yes'
            ? 'no persistence: queued work is re-sent by the scheduler after a Redis restart'
            : `persistence: ${saveValue ? `snapshots (save ${saveValue})` : ''}${aofValue === 'yes' ? ' append-only file' : ''}`.trim(),
      });
    }
  } finally {
    await reach.close();
  }
  return results;
};
