import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { REPO_ROOT, UPDRAFT_BIN } from '../support/cli.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  celeryEnv,
  dropPrefix,
  freshPrefix,
  privateMariadb,
  privatePostgres,
  startWorker,
  waitFor,
  type PrivateDatabase,
  type WorkerProcess,
} from './celery-support.js';

/**
 * The metadata DB killed and restarted in the middle of a run (private MariaDB and PostgreSQL
 * servers the test starts on ports of their own): the scheduler and the worker (real CLI processes)
 * wait and carry on; the run finishes.
 */
const SERVERS: [string, (dir: string) => Promise<PrivateDatabase>][] = [
  ['PostgreSQL', (dir) => privatePostgres(dir)],
  ['MariaDB', (dir) => privateMariadb(dir)],
];

describe.each(SERVERS)('metadata DB (%s) restarted mid-run', (_name, makeServer) => {
  let dir: string;
  let server: PrivateDatabase;
  let h: Harness;
  let worker: WorkerProcess | undefined;
  let scheduler: ChildProcess | undefined;
  let schedulerOut = '';
  const prefix = freshPrefix();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'updraft-db-restart-'));
    server = await makeServer(dir);
    await server.start();
    h = await createHarness(
      'sqlite',
      celeryEnv(prefix, {
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: server.url,
        AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO',
        AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD: '60',
      }),
    );
    const trace = join(h.home, 'trace');
    await h.writeDag(
      'chain.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'db_restart', schedule: null, startDate: '2024-01-01' }).build(() => {
  let prev: BashOperator | undefined;
  for (let i = 0; i < 4; i++) {
    const t = new BashOperator({ taskId: 't' + i, retries: 3, retryDelay: 1, bashCommand: 'echo t' + i + ' >> ${trace}; sleep 1' });
    if (prev) prev.then(t);
    prev = t;
  }
});
`,
    );
    await h.parse();
  }, 180_000);
  afterAll(async () => {
    for (const p of [scheduler, worker?.child]) {
      if (p && p.exitCode === null && p.signalCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
      }
    }
    await h?.close().catch(() => undefined);
    await server?.kill();
    await dropPrefix(prefix);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('the scheduler and the worker wait for the database and finish the run', async () => {
    const env = { ...process.env, ...h.env } as Record<string, string>;
    worker = startWorker(env, [
      '--hostname',
      'db-restart-worker',
      '-c',
      '2',
      '--skip-serve-logs',
      '--pid',
      join(h.home, 'w.pid'),
    ]);
    scheduler = spawn(process.execPath, [UPDRAFT_BIN, 'scheduler', '--no-dag-processor'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    scheduler.stdout!.on('data', (d: Buffer) => (schedulerOut += d.toString()));
    scheduler.stderr!.on('data', (d: Buffer) => (schedulerOut += d.toString()));
    await waitFor(() => worker!.output().includes('listening on'), 60_000, 'the worker');
    const run = await triggerDagRun(await h.ctx.db(), 'db_restart');
    const trace = join(h.home, 'trace');
    const traced = async () => (await readFile(trace, 'utf8').catch(() => '')).split('\n').filter((l) => l);
    await waitFor(async () => (await traced()).length >= 1, 90_000, 'the first task');
    await server.kill();
    await new Promise((r) => setTimeout(r, 4000));
    expect(scheduler.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    await server.start();
    const done = await h.waitForRun('db_restart', run.run_id, 150_000).catch((error: Error) => {
      throw new Error(
        `${error.message}\nscheduler: ${schedulerOut.slice(-3000)}\nworker: ${worker!.output().slice(-3000)}`,
      );
    });
    expect(done.state).toBe('success');
    expect(new Set(await traced())).toEqual(new Set(['t0', 't1', 't2', 't3']));
    expect(scheduler.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
  }, 300_000);
});
