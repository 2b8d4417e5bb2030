import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { taskLogPath } from '../../src/task-runner/task-log.js';
import { readTryLog } from '../../src/web/data/logs.js';
import { UPDRAFT_BIN, REPO_ROOT } from '../support/cli.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  freePort,
  freshPrefix,
  privatePostgres,
  privateRedis,
  waitFor,
  type PrivateDatabase,
  type PrivateRedis,
} from './celery-support.js';

/**
 * Two hosts on one machine: the worker runs in a network namespace of its own, joined to this
 * one by a veth pair, and reaches Redis and the metadata DB (private redis-server and PostgreSQL
 * instances bound to this side's veth address: the shared services listen on loopback only) over
 * that non-loopback link. The scheduler and the log reader stay here; the worker keeps its own
 * dags_folder and log folder, so its logs are only reachable through its log server.
 * Needs root (ip netns), iproute2, redis-server and PostgreSQL's initdb/postgres.
 */
const NS = `updraft-h17-${randomBytes(3).toString('hex')}`;
const SUBNET = 10 + (randomBytes(1)[0]! % 200);
const HOST_IP = `10.${SUBNET}.17.1`;
const WORKER_IP = `10.${SUBNET}.17.2`;
const VETH_HOST = `vh17${randomBytes(2).toString('hex')}`;
const VETH_NS = `vn17${randomBytes(2).toString('hex')}`;
const PG_BIN = '/usr/lib/postgresql/15/bin';

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
const canRun =
  process.getuid?.() === 0 &&
  (() => {
    try {
      execFileSync('which', ['ip', 'redis-server', `${PG_BIN}/initdb`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

describe.skipIf(!canRun)('a worker on another host (its own network namespace)', () => {
  let dir: string;
  let redis: PrivateRedis;
  let postgres: PrivateDatabase | undefined;
  let worker: ChildProcess | undefined;
  let workerOut = '';
  let h: Harness;
  let logPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'updraft-two-hosts-'));
    await chmod(dir, 0o755);
    ip('netns', 'add', NS);
    ip('link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_NS);
    ip('link', 'set', VETH_NS, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', VETH_HOST);
    ip('link', 'set', VETH_HOST, 'up');
    ip('netns', 'exec', NS, 'ip', 'addr', 'add', `${WORKER_IP}/30`, 'dev', VETH_NS);
    ip('netns', 'exec', NS, 'ip', 'link', 'set', VETH_NS, 'up');
    ip('netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up');

    // Redis on the host side of the link, with a password (never open without one).
    redis = await privateRedis(dir, { bind: HOST_IP, password: randomBytes(12).toString('hex') });
    await redis.start();

    // A private PostgreSQL on the same address, admitting this side (the harness) and the worker.
    postgres = await privatePostgres(dir, HOST_IP, [`${HOST_IP}/32`, `${WORKER_IP}/32`]);
    await postgres.start();
    const dbUrl = postgres.url;

    logPort = await freePort();
    const shared = {
      AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor',
      AIRFLOW__CELERY__BROKER_URL: redis.url,
      AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX: freshPrefix(),
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: dbUrl,
      AIRFLOW__WEBSERVER__SECRET_KEY: 'two-hosts-secret',
      AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT: String(logPort),
    };
    h = await createHarness('sqlite', shared);
    await h.writeDag(
      'remote.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'two_hosts', schedule: null, startDate: '2024-01-01' }).build(() => {
  const a = new BashOperator({ taskId: 'where', bashCommand: 'echo "running on $(ip -4 -o addr show ${VETH_NS} | wc -l) veth"' });
  a.then(new BashOperator({ taskId: 'after', bashCommand: 'echo done' }));
});
`,
    );
    await h.parse();
    // The worker host: its own AIRFLOW_HOME, dags folder (a copy) and log folder.
    const workerHome = join(dir, 'worker-home');
    await mkdir(join(workerHome, 'dags'), { recursive: true });
    await copyFile(join(h.dagsFolder, 'remote.ts'), join(workerHome, 'dags', 'remote.ts'));
    const env = {
      ...process.env,
      ...h.env,
      AIRFLOW_HOME: workerHome,
      AIRFLOW__CORE__DAGS_FOLDER: join(workerHome, 'dags'),
      AIRFLOW__LOGGING__BASE_LOG_FOLDER: join(workerHome, 'logs'),
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO',
    };
    worker = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS,
        process.execPath,
        UPDRAFT_BIN,
        'celery',
        'worker',
        '--hostname',
        WORKER_IP,
        '-c',
        '2',
      ],
      {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    worker.stdout!.on('data', (d: Buffer) => (workerOut += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (workerOut += d.toString()));
  }, 120_000);

  afterAll(async () => {
    await h?.stopScheduler().catch(() => undefined);
    if (worker && worker.exitCode === null) {
      const gone = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await gone;
    }
    await h?.close().catch(() => undefined);
    await postgres?.kill();
    await redis?.kill();
    try {
      ip('link', 'del', VETH_HOST);
    } catch {
      // gone with the namespace
    }
    try {
      ip('netns', 'del', NS);
    } catch {
      // not created
    }
    await new Promise((r) => setTimeout(r, 500));
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs the DAG on the namespaced worker over the veth link, and its logs are read from here', async () => {
    await waitFor(
      () => {
        // A worker that gave up (the DB refused it, say) ends the wait with its own words.
        if (worker!.exitCode !== null)
          throw new Error(`the worker exited (${worker!.exitCode}): ${workerOut}`);
        return workerOut.includes('listening on');
      },
      // A worker's first start forks its warm processes; on a loaded 2-core machine that took over a minute.
      180_000,
      () => `the worker in ${NS} to start: ${workerOut}`,
    );
    h.startScheduler();
    const run = await triggerDagRun(await h.ctx.db(), 'two_hosts');
    const done = await h.waitForRun('two_hosts', run.run_id, 90_000);
    expect(done.state).toBe('success');
    const tis = await h.tis('two_hosts', run.run_id);
    for (const ti of Object.values(tis)) expect(ti.hostname).toBe(WORKER_IP);
    // The log lives only on the worker's side; the reader here fetches it through the log server.
    const key = { dagId: 'two_hosts', runId: run.run_id, taskId: 'where', mapIndex: -1, tryNumber: 1 };
    await expect(
      readFile(taskLogPath(h.ctx.config.values.logging.base_log_folder, key), 'utf8'),
    ).rejects.toThrow();
    const chunk = await readTryLog(
      h.ctx.config.values,
      (await h.ctx.db()).kysely,
      key,
      0,
      tis.where!.hostname,
    );
    expect(chunk.exists).toBe(true);
    // The command ran inside the namespace: the namespace's veth is there.
    expect(chunk.content).toContain('running on 1 veth');
  }, 400_000);
});
