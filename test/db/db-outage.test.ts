import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createContext, type AppContext } from '../../src/context.js';
import { openMetadataDb, type MetadataDb } from '../../src/db/index.js';
import { createLogger } from '../../src/log.js';
import { createUser } from '../../src/users/index.js';
import { buildWebApp } from '../../src/web/index.js';
import { makeAirflowHome, runUpdraft, UPDRAFT_BIN, REPO_ROOT, type AirflowHome } from '../support/cli.js';
import {
  startPrivateDbServer,
  type PrivateDbServer,
  type PrivateServerKind,
} from '../support/private-db-server.js';

/**
 * A 20-second database outage while a try runs, on a MariaDB and a PostgreSQL server of the
 * test's own: the task's command exits 0 while the server is down; once it is back the try must be
 * recorded as a success (not failed, not left running for the zombie check). Meanwhile the REST
 * API answers 503 (problem+json), logs it, and answers normally again once the server is back.
 */
const OUTAGE_MS = 20_000;

const DAG_FILE = `
import { BashOperator, DAG } from 'updraft';
export const dag = new DAG({ dagId: 'outage_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'slow_ok', bashCommand: 'sleep 5; echo finished-during-outage' });
});
`;

describe.each<PrivateServerKind>(['mariadb', 'postgres'])('a 20 s outage of %s', (kind) => {
  let server: PrivateDbServer;
  let home: AirflowHome;
  let ctx: AppContext;
  let web: FastifyInstance;
  const serverLog: string[] = [];
  const auth = { authorization: `Basic ${Buffer.from('admin:admin-pass-1').toString('base64')}` };

  beforeAll(async () => {
    server = await startPrivateDbServer(kind);
    home = await makeAirflowHome({
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: server.url,
      AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC: '1',
    });
    mkdirSync(join(home.home, 'dags'));
    writeFileSync(join(home.home, 'dags', 'outage_dag.ts'), DAG_FILE);
    for (const args of [
      ['db', 'init'],
      ['dags', 'list'],
      ['dags', 'trigger', 'outage_dag', '-r', 'run_1', '-e', '2024-05-06'],
    ]) {
      const result = await runUpdraft(args, { env: home.env });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    ctx = createContext({
      env: { ...home.env, AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth' },
      log: createLogger('INFO', 'updraft', (line) => serverLog.push(line)),
      onWarning: () => undefined,
    });
    await createUser(await ctx.db(), {
      username: 'admin',
      email: 'admin@example.com',
      firstName: 'A',
      lastName: 'Dmin',
      password: 'admin-pass-1',
      roles: ['Admin'],
    });
    web = await buildWebApp(ctx);
  }, 180_000);
  afterAll(async () => {
    await web?.close();
    await ctx?.close();
    await server?.destroy();
    await home?.cleanup();
  });

  async function tiState(db: MetadataDb): Promise<string | null> {
    const row = await db.kysely
      .selectFrom('task_instance')
      .select('state')
      .where('dag_id', '=', 'outage_dag')
      .where('task_id', '=', 'slow_ok')
      .executeTakeFirst();
    return row?.state ?? null;
  }

  it('a try whose command exits 0 during the outage is recorded as a success', async () => {
    const child = spawn(process.execPath, [UPDRAFT_BIN, 'tasks', 'run', 'outage_dag', 'slow_ok', 'run_1'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...home.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));

    const db = await openMetadataDb(server.url);
    try {
      const until = Date.now() + 60_000;
      while ((await tiState(db)) !== 'running') {
        if (Date.now() > until) throw new Error(`the try never started:\n${output}`);
        await sleep(200);
      }
    } finally {
      await db.close();
    }
    expect((await web.inject({ url: '/api/v1/dags', headers: auth })).statusCode).toBe(200);
    await server.stop();
    const outageStart = Date.now();
    const down = await web.inject({ url: '/api/v1/dags', headers: auth });
    expect(down.statusCode, down.body).toBe(503);
    expect(down.headers['content-type']).toContain('application/problem+json');
    expect(serverLog.some((l) => l.includes('GET /api/v1/dags') && l.includes('unreachable'))).toBe(true);
    await sleep(OUTAGE_MS - (Date.now() - outageStart));
    await server.start();
    expect((await web.inject({ url: '/api/v1/dags', headers: auth })).statusCode).toBe(200);
    const code = await exited;
    expect(code, output).toBe(0);

    const after = await openMetadataDb(server.url);
    try {
      expect(await tiState(after)).toBe('success');
      const job = await after.kysely
        .selectFrom('job')
        .select('state')
        .where('job_type', '=', 'LocalTaskJob')
        .executeTakeFirstOrThrow();
      expect(job.state).toBe('success');
    } finally {
      await after.close();
    }
    const log = readFileSync(
      join(home.home, 'logs', 'dag_id=outage_dag', 'run_id=run_1', 'task_id=slow_ok', 'attempt=1.log'),
      'utf8',
    );
    expect(log).toContain('finished-during-outage');
    expect(log).toContain('The metadata database is unreachable');
    expect(log).toContain('Marking task as SUCCESS');
  }, 120_000);
});
