import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A MariaDB or PostgreSQL server of the test's own, started from the installed server binaries in
 * a temp data folder on a free loopback port, so a test can stop it (an outage) and start it again
 * without touching the shared servers other tests use. Tests run as root: MariaDB runs with
 * --user=root, PostgreSQL (which refuses root) as the postgres user.
 */
export type PrivateServerKind = 'mariadb' | 'postgres';

export interface PrivateDbServer {
  kind: PrivateServerKind;
  port: number;
  /** A metadata-DB URL for airflow.cfg / AIRFLOW__DATABASE__SQL_ALCHEMY_CONN. */
  url: string;
  /** Stop the server (fast shutdown: clients see their connections dropped). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stop and delete the data folder. */
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function run(command: string, args: string[], user?: string): void {
  const full = user ? ['-u', user, '--', command, ...args] : args;
  const result = spawnSync(user ? 'runuser' : command, full, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`,
    );
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function postgresBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort().reverse();
  for (const v of versions) {
    const path = join('/usr/lib/postgresql', v, 'bin', name);
    if (existsSync(path)) return path;
  }
  throw new Error(`PostgreSQL ${name} not found under /usr/lib/postgresql`);
}

export async function startPrivateDbServer(kind: PrivateServerKind): Promise<PrivateDbServer> {
  const dir = mkdtempSync(join(tmpdir(), `updraft-private-${kind}-`));
  const port = await freePort();
  const data = join(dir, 'data');
  let child: ChildProcess | null = null;

  if (kind === 'mariadb') {
    run('mariadb-install-db', [
      '--no-defaults',
      `--datadir=${data}`,
      '--auth-root-authentication-method=normal',
      '--user=root',
      '--skip-test-db',
    ]);
    const ping = () =>
      spawnSync('mariadb-admin', ['--no-defaults', '-h127.0.0.1', `-P${port}`, '-uroot', 'ping'], {
        encoding: 'utf8',
      }).status === 0;
    const server: PrivateDbServer = {
      kind,
      port,
      url: `mysql://root@127.0.0.1:${port}/updraft`,
      async start() {
        child = spawn(
          'mariadbd',
          [
            '--no-defaults',
            `--datadir=${data}`,
            `--port=${port}`,
            `--socket=${join(dir, 'mysqld.sock')}`,
            `--pid-file=${join(dir, 'mysqld.pid')}`,
            '--bind-address=127.0.0.1',
            '--user=root',
            '--skip-log-bin',
            '--innodb-buffer-pool-size=32M',
          ],
          { stdio: 'ignore' },
        );
        await waitFor(ping, `MariaDB on port ${port}`);
      },
      async stop() {
        const c = child;
        child = null;
        if (!c || c.exitCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await exited;
      },
      async destroy() {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    await server.start();
    run('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${port}`, '-uroot', '-e', 'CREATE DATABASE updraft']);
    return server;
  }

  // PostgreSQL refuses to run as root: the data folder belongs to postgres.
  chmodSync(dir, 0o755);
  run('install', ['-d', '-o', 'postgres', '-g', 'postgres', '-m', '700', data]);
  run(postgresBin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], 'postgres');
  const pgCtl = (...args: string[]) => run(postgresBin('pg_ctl'), ['-D', data, ...args], 'postgres');
  const server: PrivateDbServer = {
    kind,
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/updraft`,
    async start() {
      pgCtl(
        '-w',
        '-l',
        join(data, 'server.log'),
        '-o',
        `-p ${port} -k ${data} -c listen_addresses=127.0.0.1 -c fsync=off`,
        'start',
      );
    },
    async stop() {
      if (existsSync(join(data, 'postmaster.pid'))) pgCtl('-w', '-m', 'fast', 'stop');
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  run(postgresBin('psql'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    '-c',
    'CREATE DATABASE updraft',
  ]);
  return server;
}
