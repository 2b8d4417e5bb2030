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
import { TaskProcess } from '../../src/worker/task-process.js';
import type { ToParent } from '../../src/worker/ipc-protocol.js';
import {
  startPrivateDbServer,
  type PrivateDbServer,
  type PrivateServerKind,
} from '../support/private-db-server.js';

/**
 * A 20-second database outage, on a MariaDB and a PostgreSQL server of the test's own:
 * - a try whose command exits 0 while the server is down is recorded as a success once it is back
 *   (not failed, not left running for the zombie check); meanwhile the REST API answers 503
 *   (problem+json), logs it, and answers normally again once the server is back;
 * - a warm task process that starts while the server is down waits for it and becomes ready;
 * - with a scheduler running tasks: tries that finish during the outage, and one running across
 *   it, keep their results; no try is lost, retried or failed, the run succeeds and the scheduler
 *   rides it out.
 */
const OUTAGE_MS = 20_000;

const DAG_FILE = `
import { BashOperator, DAG } from 'updraft';
export const dag = new DAG({ dagId: 'outage_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'slow_ok', bashCommand: 'sleep 5; echo finished-during-outage' });
});
`;

const FLOW_TASKS = ['during_0', 'during_1', 'during_2', 'across', 'after'];
/** Three tries end during the outage, one runs across it, one is scheduled after it. */
const flowDag = (trace: string) => `
import { BashOperator, DAG } from 'updraft';
export const dag = new DAG({ dagId: 'outage_flow', schedule: null, startDate: '2024-01-01' }).build(() => {
  const after = new BashOperator({ taskId: 'after', bashCommand: 'echo start-after >> ${trace}; echo end-after >> ${trace}' });
  for (const [id, seconds] of [['during_0', 6], ['during_1', 7], ['during_2', 8], ['across', 28]] as const) {
    new BashOperator({
      taskId: id,
      bashCommand: 'echo start-' + id + ' >> ${trace}; sleep ' + seconds + '; echo end-' + id + ' >> ${trace}',
    }).then(after);
  }
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
      AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
      AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
    });
    mkdirSync(join(home.home, 'dags'));
    writeFileSync(join(home.home, 'dags', 'outage_dag.ts'), DAG_FILE);
    writeFileSync(join(home.home, 'dags', 'outage_flow.ts'), flowDag(join(home.home, 'trace')));
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

  it('a task process that starts during the outage waits for the database, then is ready', async () => {
    const messages: ToParent[] = [];
    let exited: string | null = null;
    await server.stop();
    const proc = new TaskProcess({
      env: { PATH: process.env.PATH, ...home.env },
      maxOldSpaceSizeMb: 512,
      onMessage: (_p, m) => messages.push(m),
      onExit: (_p, code, signal) => (exited = `code ${String(code)}, signal ${String(signal)}`),
      onOutput: () => undefined,
    });
    try {
      // Longer than max_db_retries' own retries (about 3.5 s): only the outage budget keeps it.
      await sleep(8_000);
      expect(exited, JSON.stringify(messages)).toBeNull();
      // It says it waits (an executor still starting reports that as a configuration problem).
      expect(messages.map((m) => m.type)).toEqual(['waiting']);
    } finally {
      await server.start();
    }
    const until = Date.now() + 60_000;
    while (!messages.some((m) => m.type === 'ready') && exited === null && Date.now() < until)
      await sleep(100);
    expect(exited, JSON.stringify(messages)).toBeNull();
    expect(messages.map((m) => m.type)).toEqual(['waiting', 'ready']);
    proc.send({ type: 'shutdown' });
    const gone = Date.now() + 10_000;
    while (exited === null && Date.now() < gone) await sleep(100);
    expect(exited).toBe('code 0, signal null');
  }, 120_000);

  it('a running scheduler rides it out: tries that end during it keep their results, the run succeeds', async () => {
    const trigger = await runUpdraft(['dags', 'trigger', 'outage_flow', '-r', 'flow_1'], { env: home.env });
    expect(trigger.code, trigger.stderr).toBe(0);
    const scheduler = spawn(process.execPath, [UPDRAFT_BIN, 'scheduler'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, ...home.env, AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    scheduler.stdout.on('data', (d: Buffer) => (output += d.toString()));
    scheduler.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const schedulerExited = new Promise((resolve) => scheduler.on('close', resolve));
    const flowStates = async (db: MetadataDb) =>
      Object.fromEntries(
        (
          await db.kysely
            .selectFrom('task_instance')
            .select(['task_id', 'state', 'try_number'])
            .where('dag_id', '=', 'outage_flow')
            .execute()
        ).map((r) => [r.task_id, `${r.state ?? 'none'}/${r.try_number}`]),
      );
    try {
      const db = await openMetadataDb(server.url);
      try {
        const until = Date.now() + 90_000;
        for (;;) {
          const states = await flowStates(db);
          const running = ['during_0', 'during_1', 'during_2', 'across'].every((t) =>
            states[t]?.startsWith('running'),
          );
          if (running) break;
          if (Date.now() > until)
            throw new Error(`the tries never all ran: ${JSON.stringify(states)}\n${output}`);
          await sleep(200);
        }
      } finally {
        await db.close();
      }
      await server.stop();
      await sleep(OUTAGE_MS);
      await server.start();

      const after = await openMetadataDb(server.url);
      try {
        const until = Date.now() + 120_000;
        let run: { state: string | null } | undefined;
        for (;;) {
          run = await after.kysely
            .selectFrom('dag_run')
            .select('state')
            .where('dag_id', '=', 'outage_flow')
            .where('run_id', '=', 'flow_1')
            .executeTakeFirst();
          if (run?.state === 'success' || run?.state === 'failed') break;
          if (Date.now() > until) break;
          await sleep(250);
        }
        const states = await flowStates(after);
        expect(run?.state, `${JSON.stringify(states)}\n${output}`).toBe('success');
        // Every try kept its first result: none failed, retried or was run again.
        expect(states).toEqual(Object.fromEntries(FLOW_TASKS.map((t) => [t, 'success/1'])));
      } finally {
        await after.close();
      }
      expect(scheduler.exitCode, output).toBeNull();
      expect(output).not.toContain('exited during start-up');
      const trace = readFileSync(join(home.home, 'trace'), 'utf8').trim().split('\n');
      for (const t of FLOW_TASKS)
        expect([
          t,
          trace.filter((l) => l === `start-${t}`).length,
          trace.filter((l) => l === `end-${t}`).length,
        ]).toEqual([t, 1, 1]);
    } finally {
      scheduler.kill('SIGTERM');
      await schedulerExited;
    }
  }, 240_000);
});
