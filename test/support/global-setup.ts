import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Vitest global setup: the test suites run against real MariaDB, PostgreSQL and Redis. When a
 * server is already listening this costs three TCP connects. When one is not, and we are root,
 * we install the Debian package and start it the way these machines do. We never skip: if a
 * server cannot be made available the whole run fails with a message saying which and why.
 */

interface Server {
  name: string;
  port: number;
  debianPackage: string;
  start(): void;
}

const HOST = '127.0.0.1';

function portOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port, 500)) return true;
    await sleep(250);
  }
  return false;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) {
    throw new Error(
      `\`${cmd} ${args.join(' ')}\` failed (exit ${r.status}): ${r.stderr || r.stdout || r.error}`,
    );
  }
}

function startPostgres(): void {
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  const version = versions.sort().at(-1);
  if (!version) throw new Error('PostgreSQL is installed but no cluster exists under /etc/postgresql.');
  // Trust local TCP connections so tests connect as postgres without a password.
  const hba = `/etc/postgresql/${version}/main/pg_hba.conf`;
  const trust = 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust\n';
  if (existsSync(hba) && !readFileSync(hba, 'utf8').startsWith(trust)) {
    writeFileSync(hba, trust + readFileSync(hba, 'utf8'));
  }
  run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
}

function startRedis(): void {
  run('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    '6379',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
}

function startMariadb(): void {
  // The Debian service script normally creates the socket folder; we start the daemon directly.
  run('install', ['-d', '-o', 'mysql', '-g', 'mysql', '/run/mysqld']);
  run('start-stop-daemon', [
    '--start',
    '--oknodo',
    '--background',
    '--exec',
    '/usr/sbin/mariadbd',
    '--',
    '--user=mysql',
  ]);
}

/** After MariaDB starts: root@localhost must work over TCP without a password. */
async function allowMariadbRootOverTcp(): Promise<void> {
  if (!(await waitForPort(3306, 30_000))) return;
  // Over the unix socket root authenticates by uid (we are root); switch it to an empty password.
  run('mariadb', [
    '-uroot',
    '-e',
    "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;",
  ]);
}

const SERVERS: Server[] = [
  { name: 'MariaDB', port: 3306, debianPackage: 'mariadb-server', start: startMariadb },
  { name: 'PostgreSQL', port: 5432, debianPackage: 'postgresql', start: startPostgres },
  { name: 'Redis', port: 6379, debianPackage: 'redis-server', start: startRedis },
];

const BINARIES: Record<string, string> = {
  MariaDB: '/usr/sbin/mariadbd',
  PostgreSQL: '/usr/bin/pg_ctlcluster',
  Redis: '/usr/bin/redis-server',
};

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let aptUpdated = false;
function aptInstall(pkg: string): void {
  if (!aptUpdated) {
    run('apt-get', ['update']);
    aptUpdated = true;
  }
  execFileSync('apt-get', ['install', '-y', pkg], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 900_000,
  });
}

async function ensureServer(server: Server): Promise<void> {
  if (await portOpen(server.port)) return;
  const where = `${server.name} on ${HOST}:${server.port}`;
  if (!isRoot()) {
    throw new Error(
      `${where} is not reachable and the tests are not running as root, so it cannot be installed. ` +
        `Start it (or install the Debian package ${server.debianPackage}) and run the tests again.`,
    );
  }
  try {
    if (!existsSync(BINARIES[server.name]!)) aptInstall(server.debianPackage);
    server.start();
    if (server.name === 'MariaDB') await allowMariadbRootOverTcp();
  } catch (error) {
    throw new Error(`${where} is not reachable and starting it failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!(await waitForPort(server.port, 60_000))) {
    throw new Error(`${where}: started it, but it still does not accept connections after 60 s.`);
  }
}

export default async function setup(): Promise<void> {
  // Sequential: apt-get cannot run twice at once.
  for (const server of SERVERS) await ensureServer(server);
}
