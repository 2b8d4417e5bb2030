import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createContext, type AppContext } from '../../src/context.js';
import { createUser } from '../../src/users/index.js';
import { buildWebApp } from '../../src/web/index.js';
import { SecretsMasker } from '../../src/security/secrets-masker.js';
import { makeAirflowHome, runUpdraft, type AirflowHome } from '../support/cli.js';

/**
 * Secrets through a real task run (`tasks run` in its own process) and the webserver: a variable
 * with a sensitive key, a connection password and an AIRFLOW_VAR_ environment secret reach a bash
 * command through templates and the environment, and a TaskFlow function's error and XCom. None
 * of them may appear in the log file, rendered_fields, or anything a Viewer can read.
 */
const VAR_SECRET = 'VarSecretValue-7Q2';
const CONN_PASSWORD = 'PgPassw0rd-93X';
const ENV_SECRET = 'EnvApiKey-55Z';
const SECRETS = [VAR_SECRET, CONN_PASSWORD, ENV_SECRET];

const DAG_FILE = `
import { BashOperator, DAG, FunctionOperator } from 'updraft';

export const dag = new DAG({ dagId: 'secret_dag', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({
    taskId: 'uses_secrets',
    bashCommand:
      'echo "var={{ var.value.secret_var }} conn={{ conn.my_pg.password }}" >&2; ' +
      'echo "env=$AIRFLOW_VAR_API_KEY"; echo "last {{ var.value.secret_var }}"',
  });
  new FunctionOperator({
    taskId: 'fails_with_secret',
    fn: async (ctx) => {
      const token = await ctx.var.get('secret_var');
      await ctx.ti.xcomPush('config', { note: 'value ' + token, password: 'short' });
      throw new Error('could not sign in with ' + token);
    },
  });
});
`;

let home: AirflowHome;
let ctx: AppContext;
let app: FastifyInstance;
const cli = (...args: string[]) =>
  runUpdraft(args, { env: { ...home.env, AIRFLOW_VAR_API_KEY: ENV_SECRET } });
const viewerAuth = `Basic ${Buffer.from('viewer:viewer-pass-1').toString('base64')}`;

beforeAll(async () => {
  home = await makeAirflowHome({
    AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth',
  });
  mkdirSync(join(home.home, 'dags'));
  writeFileSync(join(home.home, 'dags', 'secret_dag.ts'), DAG_FILE);
  for (const args of [
    ['db', 'init'],
    ['variables', 'set', 'secret_var', VAR_SECRET],
    ['connections', 'add', 'my_pg', '--conn-uri', `postgres://app:${CONN_PASSWORD}@db.internal:5432/app`],
    ['dags', 'list'],
    ['dags', 'trigger', 'secret_dag', '-r', 'run_1', '-e', '2024-05-06'],
  ]) {
    const result = await cli(...args);
    expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
  }
  expect((await cli('tasks', 'run', 'secret_dag', 'uses_secrets', 'run_1')).code).toBe(0);
  expect((await cli('tasks', 'run', 'secret_dag', 'fails_with_secret', 'run_1')).code).toBe(1);
  ctx = createContext({ env: { ...home.env }, onWarning: () => undefined });
  await createUser(await ctx.db(), {
    username: 'viewer',
    email: 'viewer@example.com',
    firstName: 'V',
    lastName: 'Iewer',
    password: 'viewer-pass-1',
    roles: ['Viewer'],
  });
  app = await buildWebApp(ctx);
}, 180_000);
afterAll(async () => {
  await app?.close();
  await ctx?.close();
  await home?.cleanup();
});

function expectNoSecrets(text: string, where: string): void {
  for (const secret of SECRETS) expect(text, `${where} holds ${secret}`).not.toContain(secret);
}

function logFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith('.log'))
    .map((d) => join(d.parentPath, d.name));
}

describe('secrets masking', () => {
  it('task logs hold *** instead of the secrets and are readable by their owner only', () => {
    const logs = join(home.home, 'logs', 'dag_id=secret_dag');
    const files = logFiles(logs);
    expect(files.length).toBe(2);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expectNoSecrets(text, file);
      expect(statSync(file).mode & 0o077, `${file} mode`).toBe(0);
    }
    const bash = readFileSync(
      files.find((f) => f.includes('uses_secrets'))!,
      'utf8',
    );
    expect(bash).toContain('var=*** conn=***');
    expect(bash).toContain('env=***');
    const fn = readFileSync(
      files.find((f) => f.includes('fails_with_secret'))!,
      'utf8',
    );
    expect(fn).toContain('could not sign in with ***');
    for (const dir of [logs, join(logs, 'run_id=run_1'), join(logs, 'run_id=run_1', 'task_id=uses_secrets')])
      expect(statSync(dir).mode & 0o077, `${dir} mode`).toBe(0);
  });

  it('rendered_fields are stored masked', async () => {
    const db = await ctx.db();
    const row = await db.kysely
      .selectFrom('task_instance')
      .select('rendered_fields')
      .where('task_id', '=', 'uses_secrets')
      .executeTakeFirstOrThrow();
    expectNoSecrets(row.rendered_fields ?? '', 'rendered_fields');
    expect(row.rendered_fields).toContain('var=*** conn=***');
  });

  it('a Viewer reads logs, task instances and XComs without the secrets, and not the variable', async () => {
    const base = '/api/v1/dags/secret_dag/dagRuns/run_1/taskInstances';
    const get = (url: string, accept = 'application/json') =>
      app.inject({ url, headers: { authorization: viewerAuth, accept } });
    expect((await get('/api/v1/variables/secret_var')).statusCode).toBe(403);
    const answers = [
      await get(`${base}/uses_secrets/logs/1`),
      await get(`${base}/uses_secrets/logs/1`, 'text/plain'),
      await get(`${base}/fails_with_secret/logs/1`),
      await get(base),
      await get(`${base}/uses_secrets`),
      await get(`${base}/uses_secrets/xcomEntries/return_value`),
      await get(`${base}/fails_with_secret/xcomEntries/config`),
      await get(`${base}/~/xcomEntries`),
    ];
    for (const res of answers) {
      expect(res.statusCode, res.body).toBe(200);
      expectNoSecrets(res.body, res.request?.url ?? 'answer');
    }
    const xcom = JSON.parse(answers[6]!.body) as { value: string };
    // A value under a sensitive key is masked whatever it is, as Airflow's redact() does.
    expect(JSON.parse(xcom.value)).toEqual({ note: 'value ***', password: '***' });
  });

  it('the web UI task panel and log feed show no secrets either', async () => {
    const db = await ctx.db();
    await createUser(db, {
      username: 'viewer2',
      email: 'viewer2@example.com',
      firstName: 'V',
      lastName: 'Two',
      password: 'viewer-pass-2',
      roles: ['Viewer'],
    });
    const login = await app.inject({ url: '/login' });
    const cookie = login.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(login.body)![1]!;
    const signedIn = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        csrf_token: csrf,
        username: 'viewer2',
        password: 'viewer-pass-2',
      }).toString(),
    });
    const session = signedIn.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    for (const url of [
      '/dags/secret_dag/grid?run_id=run_1&task_id=uses_secrets',
      '/dags/secret_dag/grid?run_id=run_1&task_id=fails_with_secret',
      '/ui/log?dag_id=secret_dag&run_id=run_1&task_id=uses_secrets&try_number=1',
    ]) {
      const res = await app.inject({ url, headers: { cookie: session, accept: 'text/html' } });
      expect(res.statusCode, url).toBe(200);
      expectNoSecrets(res.body, url);
    }
  });
});

describe('SecretsMasker', () => {
  it('masks registered values in their escaped spellings and by sensitive key names', () => {
    const m = new SecretsMasker({ extraSensitiveNames: ['dsn'] });
    m.addVariable('plain_setting', 'NotSecretAtAll');
    m.addVariable('MY_API_KEY', 'abc"def\\ghi');
    m.addVariable('warehouse_dsn', 'host=x password=DsnPass1');
    m.add('two words&more');
    expect(m.redact('NotSecretAtAll')).toBe('NotSecretAtAll');
    expect(m.redact('k=abc"def\\ghi j={"v":"abc\\"def\\\\ghi"}')).toBe('k=*** j={"v":"***"}');
    expect(m.redact('url?q=two%20words%26more')).toBe('url?q=***');
    expect(m.redact('dsn: host=x password=DsnPass1')).toBe('dsn: ***');
    expect(m.redactValue({ Authorization: 'Bearer x', nested: [{ api_token: 1 }], ok: 'fine' })).toEqual({
      Authorization: '***',
      nested: [{ api_token: '***' }],
      ok: 'fine',
    });
    expect(new SecretsMasker({ enabled: false }).redactValue({ password: 'x' })).toEqual({ password: 'x' });
  });
});
