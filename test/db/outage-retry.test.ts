import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.js';
import { DatabaseError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { MYSQL_SERVER, POSTGRES_SERVER } from '../support/databases.js';

/**
 * [database] max_db_retries: a process whose database server is unreachable for a moment (a
 * restart, a failover) tries a new connection again, 0.5 s, 1 s, 2 s … apart, that many times
 * before the operation that needed it fails. The "server" here is a TCP relay to the real one
 * that starts listening only after a delay: until then every connection is refused.
 */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A relay on `port` to the real server at `target`, listening only once started. */
function relay(port: number, target: number): { start(): Promise<void>; stop(): Promise<void> } {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  return {
    start: () =>
      new Promise((resolve) => {
        server = createServer((client) => {
          const upstream = connect(target, '127.0.0.1');
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('close', () => sockets.delete(s));
            s.on('error', () => undefined);
          }
          client.pipe(upstream).pipe(client);
        });
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server) return resolve();
        server.close(() => resolve());
      }),
  };
}

const TARGETS = {
  postgres: {
    port: POSTGRES_SERVER.port,
    url: (p: number) => `postgresql://postgres@127.0.0.1:${p}/postgres`,
  },
  mysql: { port: MYSQL_SERVER.port, url: (p: number) => `mysql://root@127.0.0.1:${p}/mysql` },
} as const;

describe.each(['postgres', 'mysql'] as const)('max_db_retries on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function setUp(maxDbRetries: number) {
    const port = await freePort();
    const proxy = relay(port, TARGETS[dialect].port);
    const home = await mkdtemp(join(tmpdir(), 'updraft-retries-'));
    const ctx = createContext({
      env: {
        AIRFLOW_HOME: home,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: TARGETS[dialect].url(port),
        AIRFLOW__DATABASE__MAX_DB_RETRIES: String(maxDbRetries),
      },
      log: silentLogger,
      onWarning: () => undefined,
    });
    cleanups.push(async () => {
      await ctx.close();
      await proxy.stop();
      await rm(home, { recursive: true, force: true });
    });
    return { ctx, proxy };
  }

  it('a server back within the retries is reached: opening waits for it', async () => {
    const { ctx, proxy } = await setUp(3);
    const started = Date.now();
    setTimeout(() => void proxy.start(), 800);
    const db = await ctx.db();
    // Refused at first, reached on a later try (0.5 s and 1 s waits: about 1.5 s).
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    const r = await sql<{ one: number }>`select 1 as one`.execute(db.kysely);
    expect(Number(r.rows[0]?.one)).toBe(1);
  });

  it('with max_db_retries = 0 the first refusal is the answer; a later open tries again', async () => {
    const { ctx, proxy } = await setUp(0);
    const started = Date.now();
    const error = await ctx.db().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as Error).message).toMatch(/Cannot connect to the metadata database/);
    expect(Date.now() - started).toBeLessThan(500);
    // The failed open is not kept: once the server is there, the same context reaches it.
    await proxy.start();
    const db = await ctx.db();
    expect((await sql<{ one: number }>`select 1 as one`.execute(db.kysely)).rows).toHaveLength(1);
  });

  it('gives up after its retries when the server stays away', async () => {
    const { ctx } = await setUp(2);
    const started = Date.now();
    const error = await ctx.db().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseError);
    // Two retries: waits of 0.5 s and 1 s before the last refusal.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
  });
});
