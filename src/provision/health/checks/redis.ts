import { Redis } from 'ioredis';
import { REDIS_LAYOUT } from '../../playbooks/redis.js';
import { errorMessage } from '../../../errors.js';
import type { Endpoint } from '../../remote/types.js';
import { timed, type Check, type CheckResult, type HealthContext } from '../types.js';
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
    // ioredis's disconnect() ends its side and waits up to 2 s for the close, holding the CLI open:
    // the close does not come back through the tunnel, and never comes for a connection Redis
    // already closed (one refused without a password). QUIT has Redis close it at once.
    if (r.status === 'ready') await r.quit().catch(() => r.disconnect());
    else if (r.status !== 'end' && r.status !== 'close') r.disconnect();
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

/** PING with the stack's password, then the persistence settings on the same connection. */
async function authChecks(ctx: HealthContext, endpoint: Endpoint): Promise<CheckResult[]> {
  const session = await ask(endpoint, ctx.secrets.redis_password, async (r) => {
    await r.ping();
    const [save, aof] = await Promise.all([r.config('GET', 'save'), r.config('GET', 'appendonly')]);
    return { save: save as string[], aof: aof as string[] };
  });
  if (!session.ok)
    return [
      {
        id: 'redis.auth',
        group: 'redis',
        status: 'fail',
        finding: `refuses the stack's password: the scheduler and workers cannot reach the broker`,
        evidence: ctx.mask(session.error),
        fix: 'redis-config',
      },
    ];
  const { save, aof } = session.value as { save: string[]; aof: string[] };
  const saveValue = String(save[1] ?? '');
  const aofValue = String(aof[1] ?? '');
  return [
    { id: 'redis.auth', group: 'redis', status: 'ok', finding: `answers PING with the stack's password` },
    {
      id: 'redis.persistence',
      group: 'redis',
      status: 'ok',
      finding:
        saveValue === '' && aofValue !== 'yes'
          ? 'no persistence: queued work is re-sent by the scheduler after a Redis restart'
          : `persistence: ${saveValue ? `snapshots (save ${saveValue})` : ''}${aofValue === 'yes' ? ' append-only file' : ''}`.trim(),
    },
  ];
}

async function noAuthCheck(endpoint: Endpoint): Promise<CheckResult> {
  const anonymous = await ask(endpoint, undefined, (r) => r.ping());
  return anonymous.ok
    ? {
        id: 'redis.noauth',
        group: 'redis',
        status: 'fail',
        finding: 'answers clients without a password (anyone who reaches it can read or flush the queue)',
        fix: 'redis-config',
      }
    : { id: 'redis.noauth', group: 'redis', status: 'ok', finding: 'refuses unauthenticated clients' };
}

export const redisChecks: Check = async (ctx) => {
  const layout = REDIS_LAYOUT[ctx.facts.family];
  const port = ctx.stack.redis.port;
  const service = await timed(async () => {
    const unit = await unitState(ctx.host, layout.service);
    return unit.active !== 'active'
      ? {
          id: 'redis.service',
          group: 'redis',
          status: 'fail',
          finding: `${layout.service} is ${unit.active} (${unit.enabled} at boot)`,
          evidence: await journal(ctx.host, layout.service),
          fix: 'redis-service',
        }
      : {
          id: 'redis.service',
          group: 'redis',
          status: 'ok',
          finding: `${layout.service} active, ${unit.enabled} at boot`,
        };
  });
  if (service[0]!.status !== 'ok') return service;
  const reach = await ctx.host.reach({ port });
  try {
    const [listen, auth, noauth] = await Promise.all([
      timed(() => listening(ctx, port)),
      timed(() => authChecks(ctx, reach.endpoint)),
      timed(() => noAuthCheck(reach.endpoint)),
    ]);
    // In the order a reader expects: service, listen, auth, noauth, persistence.
    return [
      ...service,
      ...listen,
      ...auth.filter((c) => c.id === 'redis.auth'),
      ...noauth,
      ...auth.filter((c) => c.id !== 'redis.auth'),
    ];
  } finally {
    await reach.close();
  }
};
