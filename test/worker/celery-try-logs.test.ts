import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { silentLogger } from '../../src/log.js';
import { readTryLog } from '../../src/web/data/logs.js';
import { startLogServer } from '../../src/worker/log-server.js';
import { runUpdraft } from '../support/cli.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import { freePort } from './celery-support.js';

/**
 * Each try's log is read from the host that ran that try, not from the TI's latest host. Two "hosts"
 * are two loopback addresses, each with its own log folder and a worker log server on the same port
 * (as two worker hosts would have): try 1 runs as 127.0.0.2, try 2 as 127.0.0.3 (the real runner,
 * through `tasks run`), and the reader, a third host with an empty log folder, asks each try's host.
 */
const HOST_A = '127.0.0.2';
const HOST_B = '127.0.0.3';

describe.each(['sqlite', 'mysql', 'postgres'] as const)('remote logs per try (%s)', (dialect) => {
  let h: Harness;
  let port: number;
  const servers: Server[] = [];
  let runId: string;
  const folder = (host: string) => join(h.home, `logs-${host}`);
  const readerEnv = (logPort: number) => ({
    ...h.env,
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: join(h.home, 'reader-logs'),
    AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT: String(logPort),
    AIRFLOW__WEBSERVER__SECRET_KEY: 'shared-secret',
    AIRFLOW__CORE__HOSTNAME: 'reader-host',
  });
  const runAs = (host: string) =>
    runUpdraft(['tasks', 'run', 'per_try', 'where', runId, '-i'], {
      env: {
        ...h.env,
        AIRFLOW__CORE__HOSTNAME: host,
        AIRFLOW__LOGGING__BASE_LOG_FOLDER: folder(host),
        MARK: `ran-on-${host}`,
      },
      timeoutMs: 120_000,
    });

  beforeAll(async () => {
    h = await createHarness(dialect, { AIRFLOW__WEBSERVER__SECRET_KEY: 'shared-secret' });
    await h.writeDag(
      'per_try.ts',
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'per_try', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'where', bashCommand: 'echo "$MARK"' });
});
`,
    );
    await h.parse();
    runId = (await triggerDagRun(await h.ctx.db(), 'per_try')).run_id;
    port = await freePort();
    for (const host of [HOST_A, HOST_B]) {
      await mkdir(folder(host), { recursive: true });
      servers.push(
        await startLogServer({
          host,
          port,
          baseLogFolder: folder(host),
          secretKey: 'shared-secret',
          log: silentLogger,
        }),
      );
    }
    const first = await runAs(HOST_A);
    expect(first.code, first.stderr).toBe(0);
    const second = await runAs(HOST_B);
    expect(second.code, second.stderr).toBe(0);
  }, 300_000);
  afterAll(async () => {
    for (const server of servers) await new Promise((r) => server.close(r));
    await h?.close();
  });

  it('reads try 1 from host A and try 2 from host B (the TI names only host B)', async () => {
    const tis = await h.tis('per_try', runId);
    expect(tis.where!.try_number).toBe(2);
    expect(tis.where!.hostname).toBe(HOST_B);
    const db = (await h.ctx.db()).kysely;
    const config = loadConfig({ env: readerEnv(port) }).values;
    const key = { dagId: 'per_try', runId, taskId: 'where', mapIndex: -1 };
    const one = await readTryLog(config, db, { ...key, tryNumber: 1 }, 0, tis.where!.hostname);
    expect(one.exists, one.content).toBe(true);
    expect(one.content).toContain(`ran-on-${HOST_A}`);
    expect(one.content).not.toContain(`ran-on-${HOST_B}`);
    const two = await readTryLog(config, db, { ...key, tryNumber: 2 }, 0, tis.where!.hostname);
    expect(two.exists, two.content).toBe(true);
    expect(two.content).toContain(`ran-on-${HOST_B}`);
  });

  it('tasks logs on another host prints each try from its own host', async () => {
    const one = await runUpdraft(['tasks', 'logs', 'per_try', 'where', runId, '-t', '1'], {
      env: readerEnv(port),
    });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain(`ran-on-${HOST_A}`);
    const latest = await runUpdraft(['tasks', 'logs', 'per_try', 'where', runId], { env: readerEnv(port) });
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout).toContain(`ran-on-${HOST_B}`);
  }, 120_000);

  it('says which worker cannot be reached, and looks only here for a try of this host', async () => {
    const db = (await h.ctx.db()).kysely;
    const key = { dagId: 'per_try', runId, taskId: 'where', mapIndex: -1, tryNumber: 1 };
    const gonePort = await freePort();
    const gone = await readTryLog(loadConfig({ env: readerEnv(gonePort) }).values, db, key, 0, HOST_B);
    expect(gone.exists).toBe(false);
    expect(gone.content).toContain(`on worker ${HOST_A}, which cannot be reached at ${HOST_A}:${gonePort}`);
    const cli = await runUpdraft(['tasks', 'logs', 'per_try', 'where', runId, '-t', '1'], {
      env: readerEnv(gonePort),
    });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(`on worker ${HOST_A}, which cannot be reached`);
    // Read as host A itself: its own folder holds try 1, no server is asked.
    const asA = loadConfig({
      env: {
        ...readerEnv(gonePort),
        AIRFLOW__CORE__HOSTNAME: HOST_A,
        AIRFLOW__LOGGING__BASE_LOG_FOLDER: folder(HOST_A),
      },
    }).values;
    expect((await readTryLog(asA, db, key, 0, HOST_B)).content).toContain(`ran-on-${HOST_A}`);
    // As host A, try 2 (host B's) is fetched from B, not looked for only here.
    const twoFromA = await readTryLog(asA, db, { ...key, tryNumber: 2 }, 0, HOST_B);
    expect(twoFromA.content).toContain(`on worker ${HOST_B}, which cannot be reached`);
  });
});
