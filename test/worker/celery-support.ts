import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/tables.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { UPDRAFT_BIN, REPO_ROOT } from '../support/cli.js';

/** Helpers for the distributed-execution tests: worker processes (the built CLI) and waiting. */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export function startWorker(env: Record<string, string>, args: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [UPDRAFT_BIN, 'celery', 'worker', ...args], {
    cwd: REPO_ROOT,
    env: { ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  /** A function when the message should show the state at the timeout (a process's output so far). */
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A key prefix of its own per test, so tests never see each other's queues on the shared Redis. */
export function freshPrefix(): string {
  return `updraft_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Configuration that points a harness at the shared Redis with a fresh prefix. */
export function celeryEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor',
    AIRFLOW__CELERY__BROKER_URL: 'redis://127.0.0.1:6379/0',
    AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX: prefix,
    AIRFLOW__WEBSERVER__SECRET_KEY: 'test-secret-key',
    ...extra,
  };
}

/** Remove every key under the prefix from the shared Redis. */
export async function dropPrefix(prefix: string, url = 'redis://127.0.0.1:6379/0'): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The process and all its descendants (by parent pid), deepest first. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let children: number[] = [];
    try {
      children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(p)], { encoding: 'utf8' })
        .split('\n')
        .map((l) => Number(l.trim()))
        .filter((n) => n > 0);
    } catch {
      // no children
    }
    for (const c of children) walk(c);
    out.push(p);
  };
  walk(pid);
  return out;
}

/** kill -9 a whole host's worker: the worker and every process under it (its task processes, their commands). */
export function killHost(pid: number): number[] {
  const pids = processTree(pid);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** A private redis-server of the test's own (its own port and directory), to restart or misconfigure. */
export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

export async function privateRedis(
  dir: string,
  options: { password?: string; persistent?: boolean; bind?: string } = {},
): Promise<PrivateRedis> {
  const port = await freePort();
  const bind = options.bind ?? '127.0.0.1';
  let child: ChildProcess | null = null;
  const args = [
    '--port',
    String(port),
    '--bind',
    bind,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.persistent ? 'yes' : 'no',
    '--appendfsync',
    'always',
    ...(options.password ? ['--requirepass', options.password] : []),
  ];
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const r: PrivateRedis = {
    port,
    url: `redis://${auth}${bind}:${port}/0`,
    async start() {
      child = spawn('redis-server', args, { stdio: 'ignore' });
      const { Redis } = await import('ioredis');
      await waitFor(
        async () => {
          const probe = new Redis({
            host: bind,
            port,
            password: options.password,
            lazyConnect: true,
            retryStrategy: () => null,
          });
          probe.on('error', () => undefined);
          try {
            await probe.connect();
            return (await probe.ping()) === 'PONG';
          } catch {
            return false;
          } finally {
            probe.disconnect();
          }
        },
        20_000,
        `redis-server on port ${port}`,
      );
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const gone = new Promise((res) => c.once('exit', res));
      c.kill('SIGKILL');
      await gone;
    },
  };
  return r;
}

/** A private database server of the test's own (its own port and data directory), to restart. */
export interface PrivateDatabase {
  url: string;
  start(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

function serverProcess(command: string, args: string[], user?: { uid: number; gid: number }) {
  let child: ChildProcess | null = null;
  return {
    spawn() {
      child = spawn(command, args, { stdio: 'ignore', ...(user ?? {}) });
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((res) => c.once('exit', res));
      c.kill('SIGKILL');
      await gone;
    },
  };
}

/**
 * PostgreSQL 15 (initdb as the postgres user), listening on `host`, with a database `updraft`.
 * pg_hba.conf trusts connections from `clients` only (CIDR ranges; by default `host` itself, where
 * the test's own connections come from): a client on another address, such as a worker in a
 * network namespace, must be named.
 */
export async function privatePostgres(
  dir: string,
  host = '127.0.0.1',
  clients: string[] = [`${host}/32`],
): Promise<PrivateDatabase> {
  const data = `${dir}/pg`;
  // The postgres user must be able to reach its data directory inside the test's temp folder.
  execFileSync('chmod', ['755', dir]);
  execFileSync('mkdir', ['-p', data]);
  const user = {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  };
  execFileSync('chown', ['postgres:postgres', data]);
  execFileSync(`${PG_BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres'], {
    stdio: 'ignore',
    ...user,
  });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(
    `${data}/pg_hba.conf`,
    ['local all all trust', ...clients.map((c) => `host all all ${c} trust`), ''].join('\n'),
  );
  const port = await freePort();
  // Started as the postgres user directly, so the process we hold is the postmaster itself.
  const server = serverProcess(
    `${PG_BIN}/postgres`,
    [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      `listen_addresses=${host}`,
      '-c',
      `unix_socket_directories=${data}`,
    ],
    user,
  );
  let created = false;
  const { default: pg } = await import('pg');
  return {
    url: `postgresql://postgres@${host}:${port}/updraft`,
    async start() {
      server.spawn();
      await waitFor(
        async () => {
          const c = new pg.Client({ host, port, user: 'postgres', database: 'postgres' });
          c.on('error', () => undefined);
          try {
            await c.connect();
            if (!created) await c.query('CREATE DATABASE updraft');
            created = true;
            return true;
          } catch {
            return false;
          } finally {
            await c.end().catch(() => undefined);
          }
        },
        60_000,
        `PostgreSQL on port ${port}`,
      );
    },
    async kill() {
      await server.kill();
      // Its backends notice the postmaster is gone and leave; wait until the port is free again.
      await new Promise((r) => setTimeout(r, 1000));
    },
  };
}

/** MariaDB (mariadb-install-db into its own data directory, root without password on `host`). */
export async function privateMariadb(dir: string, host = '127.0.0.1'): Promise<PrivateDatabase> {
  const data = `${dir}/mariadb`;
  execFileSync(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${data}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ],
    {
      stdio: 'ignore',
    },
  );
  const port = await freePort();
  const server = serverProcess('/usr/sbin/mariadbd', [
    '--no-defaults',
    `--datadir=${data}`,
    `--port=${port}`,
    `--bind-address=${host}`,
    `--socket=${data}/mariadb.sock`,
    '--user=root',
    '--skip-name-resolve=0',
    '--innodb-buffer-pool-size=32M',
  ]);
  let created = false;
  const { createConnection } = await import('mysql2/promise');
  return {
    url: `mysql://root@${host}:${port}/updraft`,
    async start() {
      server.spawn();
      await waitFor(
        async () => {
          try {
            const c = await createConnection({ host, port, user: 'root', connectTimeout: 2000 });
            try {
              if (!created)
                await c.query('CREATE DATABASE updraft CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
              created = true;
            } finally {
              await c.end();
            }
            return true;
          } catch {
            return false;
          }
        },
        60_000,
        `MariaDB on port ${port}`,
      );
    },
    kill: () => server.kill(),
  };
}

/** Wait until exactly one worker has registered its running WorkerJob row (it is ready to take work). */
export async function waitForOneRunningWorker(db: Kysely<Database>, timeoutMs = 180_000): Promise<void> {
  await waitFor(
    async () =>
      (
        await db
          .selectFrom('job')
          .select('id')
          .where('job_type', '=', 'WorkerJob')
          .where('state', '=', 'running')
          .execute()
      ).length === 1,
    timeoutMs,
    'the worker job row',
  );
}
