import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  basic,
  fixtureDag,
  insertDag,
  schedulerHeartbeat,
  setTaskStates,
  startWebFixture,
  writeTaskLog,
  type WebFixture,
} from './web-fixture.js';
import { InjectSession } from './session-helper.js';

/** REST API /api/v1 on SQLite: every endpoint, auth backends, and the role matrix. */
let f: WebFixture;
const dag = fixtureDag('etl_daily', { tags: ['etl', 'daily'] });
const other = fixtureDag('reporting', { tags: ['reports'] });

const call = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  user: string | null,
  payload?: unknown,
) =>
  f.app.inject({
    method,
    url: `/api/v1${url}`,
    payload: payload as never,
    headers: user ? { authorization: basic(user) } : {},
  });

beforeAll(async () => {
  f = await startWebFixture('sqlite', {
    AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session',
    AIRFLOW__WEBSERVER__EXPOSE_CONFIG: 'True',
    AIRFLOW__WEBSERVER__LOGIN_RATE_LIMIT: '50',
  });
  await insertDag(f.store, dag);
  await insertDag(f.store, other, { paused: true });
});
afterAll(async () => f?.close());

describe('monitoring', () => {
  it('/health needs no auth and reports the scheduler from SchedulerJob heartbeats', async () => {
    let res = await f.app.inject({ url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      metadatabase: { status: 'healthy' },
      scheduler: { status: 'unhealthy', latest_scheduler_heartbeat: null },
    });
    const old = Date.now() - 120_000;
    await schedulerHeartbeat(f.store, old);
    res = await f.app.inject({ url: '/api/v1/health' });
    expect(res.json().scheduler).toEqual({
      status: 'unhealthy',
      latest_scheduler_heartbeat: new Date(old).toISOString(),
    });
    const fresh = Date.now();
    await schedulerHeartbeat(f.store, fresh);
    res = await f.app.inject({ url: '/health' });
    expect(res.json().scheduler).toEqual({
      status: 'healthy',
      latest_scheduler_heartbeat: new Date(fresh).toISOString(),
    });
  });

  it('/version and the OpenAPI document', async () => {
    expect((await f.app.inject({ url: '/version' })).json().version).toMatch(/^\d+\.\d+/);
    const doc = (await f.app.inject({ url: '/api/v1/openapi.json' })).json();
    expect(doc.openapi).toBe('3.0.3');
    for (const path of [
      '/dags',
      '/dags/{dag_id}',
      '/dags/{dag_id}/dagRuns',
      '/dags/{dag_id}/clearTaskInstances',
      '/variables',
      '/connections',
      '/pools',
      '/importErrors',
      '/eventLogs',
      '/health',
      '/version',
      '/config',
      '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{task_try_number}',
      '/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/dags/{dag_id}'].patch['x-required-role']).toBe('User');
  });
});

describe('authentication', () => {
  it('401 problem JSON without or with wrong credentials', async () => {
    let res = await call('GET', '/dags', null);
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    expect(res.headers['www-authenticate']).toContain('Basic');
    res = await f.app.inject({ url: '/api/v1/dags', headers: { authorization: basic('viewer', 'wrong') } });
    expect(res.statusCode).toBe(401);
  });

  it('a signed-in browser session works for reads and needs the CSRF header for changes', async () => {
    const s = new InjectSession(f.app);
    expect((await s.signIn('user')).statusCode).toBe(303);
    expect((await s.api('GET', '/api/v1/dags')).statusCode).toBe(200);
    const noCsrf = await s.api('PATCH', '/api/v1/dags/reporting', { is_paused: true });
    expect(noCsrf.statusCode).toBe(403);
    const ok = await s.api(
      'PATCH',
      '/api/v1/dags/reporting',
      { is_paused: true },
      { 'x-csrf-token': s.csrf },
    );
    expect(ok.statusCode).toBe(200);
  });
});

describe('role matrix', () => {
  const cases: {
    name: string;
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
    url: string;
    body?: unknown;
    minimum: 'viewer' | 'user' | 'op' | 'admin';
  }[] = [
    { name: 'list dags', method: 'GET', url: '/dags', minimum: 'viewer' },
    { name: 'list runs', method: 'GET', url: '/dags/etl_daily/dagRuns', minimum: 'viewer' },
    { name: 'event logs', method: 'GET', url: '/eventLogs', minimum: 'viewer' },
    { name: 'pause', method: 'PATCH', url: '/dags/reporting', body: { is_paused: true }, minimum: 'user' },
    {
      name: 'clear dry run',
      method: 'POST',
      url: '/dags/etl_daily/clearTaskInstances',
      body: { dry_run: true },
      minimum: 'user',
    },
    { name: 'variables', method: 'GET', url: '/variables', minimum: 'op' },
    { name: 'connections', method: 'GET', url: '/connections', minimum: 'op' },
    { name: 'pools', method: 'GET', url: '/pools', minimum: 'op' },
    { name: 'config', method: 'GET', url: '/config', minimum: 'admin' },
  ];
  const order = ['public', 'viewer', 'user', 'op', 'admin'];
  for (const c of cases) {
    it(`${c.name} needs ${c.minimum}`, async () => {
      for (const who of order) {
        const res = await call(c.method, c.url, who, c.body);
        const allowed = order.indexOf(who) >= order.indexOf(c.minimum);
        expect(res.statusCode, `${who} ${c.method} ${c.url}: ${res.body}`).toBe(allowed ? 200 : 403);
      }
    });
  }
});

describe('dags', () => {
  it('lists with tags, paused filter, limit/offset and counts', async () => {
    const all = (await call('GET', '/dags', 'viewer')).json();
    expect(all.total_entries).toBe(2);
    expect(all.dags.map((d: { dag_id: string }) => d.dag_id)).toEqual(['etl_daily', 'reporting']);
    expect(all.dags[0]).toMatchObject({
      dag_id: 'etl_daily',
      owners: ['data-team'],
      tags: [{ name: 'daily' }, { name: 'etl' }],
      schedule_interval: { __type: 'CronExpression', value: '0 0 * * *' },
    });
    expect(
      (await call('GET', '/dags?tags=reports', 'viewer'))
        .json()
        .dags.map((d: { dag_id: string }) => d.dag_id),
    ).toEqual(['reporting']);
    const paused = (await call('GET', '/dags?paused=true', 'viewer')).json();
    expect(paused.dags.every((d: { is_paused: boolean }) => d.is_paused)).toBe(true);
    const page = (await call('GET', '/dags?limit=1&offset=1', 'viewer')).json();
    expect(page.dags).toHaveLength(1);
    expect(page.total_entries).toBe(2);
  });

  it('bad query values are 400 problem JSON; unknown DAG is 404', async () => {
    const bad = await call('GET', '/dags?limit=abc', 'viewer');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toContain('limit');
    expect((await call('GET', '/dags?paused=maybe', 'viewer')).statusCode).toBe(400);
    expect((await call('GET', '/dags/nope', 'viewer')).statusCode).toBe(404);
    expect((await call('PATCH', '/dags/etl_daily', 'user', { is_paused: 'yes' })).statusCode).toBe(400);
    expect((await call('PATCH', '/dags/etl_daily', 'user', {})).statusCode).toBe(400);
  });

  it('patch is_paused changes the DAG and writes the audit log', async () => {
    const res = await call('PATCH', '/dags/etl_daily', 'user', { is_paused: true });
    expect(res.json().is_paused).toBe(true);
    const row = await f.store.kysely
      .selectFrom('dag')
      .select('is_paused')
      .where('dag_id', '=', 'etl_daily')
      .executeTakeFirstOrThrow();
    expect(row.is_paused).toBe(1);
    const logs = (await call('GET', '/eventLogs?dag_id=etl_daily&event=paused', 'viewer')).json();
    expect(logs.event_logs[0]).toMatchObject({ dag_id: 'etl_daily', event: 'paused', owner: 'user' });
    await call('PATCH', '/dags/etl_daily', 'user', { is_paused: false });
  });

  it('tasks of a DAG with downstream ids', async () => {
    const body = (await call('GET', '/dags/etl_daily/tasks', 'viewer')).json();
    expect(body.total_entries).toBe(4);
    expect(body.tasks[0]).toMatchObject({
      task_id: 'extract',
      downstream_task_ids: ['section.transform'],
      operator_name: 'BashOperator',
    });
    expect((await call('GET', '/dags/etl_daily/tasks/load', 'viewer')).json().task_id).toBe('load');
    expect((await call('GET', '/dags/etl_daily/tasks/nope', 'viewer')).statusCode).toBe(404);
  });
});

describe('dag runs, task instances, logs, xcom, clear', () => {
  let runId = '';
  it('triggers with conf validated against params', async () => {
    const res = await call('POST', '/dags/etl_daily/dagRuns', 'user', { conf: { who: 'api', count: 3 } });
    expect(res.statusCode, res.body).toBe(200);
    const run = res.json();
    runId = run.dag_run_id;
    expect(run).toMatchObject({
      dag_id: 'etl_daily',
      state: 'queued',
      run_type: 'manual',
      external_trigger: true,
    });
    expect(run.conf).toMatchObject({ who: 'api', count: 3 });
    const bad = await call('POST', '/dags/etl_daily/dagRuns', 'user', { conf: { count: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toMatch(/count/);
    expect((await call('POST', '/dags/etl_daily/dagRuns', 'user', { conf: 'x' })).statusCode).toBe(400);
    expect((await call('POST', '/dags/etl_daily/dagRuns', 'user', { dag_run_id: runId })).statusCode).toBe(
      409,
    );
    expect((await call('POST', '/dags/nope/dagRuns', 'user', {})).statusCode).toBe(404);
    expect((await call('POST', '/dags/etl_daily/dagRuns', 'viewer', {})).statusCode).toBe(403);
  });

  it('lists and gets runs; unknown run is 404', async () => {
    const list = (await call('GET', '/dags/etl_daily/dagRuns', 'viewer')).json();
    expect(list.dag_runs.map((r: { dag_run_id: string }) => r.dag_run_id)).toContain(runId);
    expect(
      (await call('GET', `/dags/etl_daily/dagRuns/${encodeURIComponent(runId)}`, 'viewer')).json().dag_run_id,
    ).toBe(runId);
    expect((await call('GET', '/dags/~/dagRuns', 'viewer')).json().total_entries).toBeGreaterThanOrEqual(1);
    expect((await call('GET', '/dags/etl_daily/dagRuns/nope', 'viewer')).statusCode).toBe(404);
  });

  it('task instances, logs by try (JSON with continuation token and text), xcom', async () => {
    await setTaskStates(f.store, dag, runId, { extract: 'success', 'section.transform': 'running' });
    await f.store.kysely
      .insertInto('xcom')
      .values({
        dag_id: 'etl_daily',
        run_id: runId,
        task_id: 'extract',
        map_index: -1,
        key: 'return_value',
        value: '{"rows":42}',
        timestamp: Date.now(),
      })
      .execute();
    await writeTaskLog(
      f.ctx,
      { dagId: 'etl_daily', runId, taskId: 'extract', tryNumber: 1 },
      'line one\nline two\n',
    );
    const enc = encodeURIComponent(runId);
    const tis = (await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances`, 'viewer')).json();
    expect(tis.total_entries).toBe(4);
    const ti = (await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract`, 'viewer')).json();
    expect(ti).toMatchObject({ task_id: 'extract', state: 'success', try_number: 1 });
    const log = (
      await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract/logs/1`, 'viewer')
    ).json();
    expect(log.content).toBe('line one\nline two\n');
    await writeTaskLog(
      f.ctx,
      { dagId: 'etl_daily', runId, taskId: 'extract', tryNumber: 1 },
      'line three\n',
      true,
    );
    const more = (
      await call(
        'GET',
        `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract/logs/1?token=${log.continuation_token}`,
        'viewer',
      )
    ).json();
    expect(more.content).toBe('line three\n');
    const text = await f.app.inject({
      url: `/api/v1/dags/etl_daily/dagRuns/${enc}/taskInstances/extract/logs/1`,
      headers: { authorization: basic('viewer'), accept: 'text/plain' },
    });
    expect(text.body).toContain('line three');
    expect(
      (await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract/logs/5`, 'viewer')).statusCode,
    ).toBe(404);
    expect(
      (await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract/logs/0`, 'viewer')).statusCode,
    ).toBe(400);
    const xcoms = (
      await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract/xcomEntries`, 'viewer')
    ).json();
    expect(xcoms.xcom_entries[0]).toMatchObject({ key: 'return_value', task_id: 'extract' });
    expect(
      (
        await call(
          'GET',
          `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract/xcomEntries/return_value`,
          'viewer',
        )
      ).json().value,
    ).toBe('{"rows":42}');
  });

  it('clearTaskInstances: dry run changes nothing, a real clear resets state and re-queues the run', async () => {
    const enc = encodeURIComponent(runId);
    await f.store.kysely
      .updateTable('dag_run')
      .set({ state: 'failed' })
      .where('run_id', '=', runId)
      .execute();
    const dry = (
      await call('POST', '/dags/etl_daily/clearTaskInstances', 'user', {
        dag_run_id: runId,
        task_ids: ['extract'],
        include_downstream: true,
      })
    ).json();
    expect(dry.task_instances.map((t: { task_id: string }) => t.task_id).sort()).toEqual([
      'extract',
      'load',
      'section.check',
      'section.transform',
    ]);
    expect(
      (await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract`, 'viewer')).json().state,
    ).toBe('success');
    const real = await call('POST', '/dags/etl_daily/clearTaskInstances', 'user', {
      dag_run_id: runId,
      task_ids: ['extract'],
      dry_run: false,
    });
    expect(real.statusCode, real.body).toBe(200);
    expect(
      (await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/extract`, 'viewer')).json().state,
    ).toBeNull();
    expect((await call('GET', `/dags/etl_daily/dagRuns/${enc}`, 'viewer')).json().state).toBe('queued');
    expect(
      (
        await call('POST', '/dags/etl_daily/clearTaskInstances', 'user', {
          task_ids: ['nope'],
          dry_run: false,
        })
      ).statusCode,
    ).toBe(400);
    expect((await call('POST', '/dags/etl_daily/clearTaskInstances', 'user', { bogus: 1 })).statusCode).toBe(
      400,
    );
  });

  it('updateTaskInstancesState marks, patch run state, delete run', async () => {
    const enc = encodeURIComponent(runId);
    const mark = await call('POST', '/dags/etl_daily/updateTaskInstancesState', 'user', {
      dag_run_id: runId,
      task_id: 'load',
      new_state: 'failed',
      dry_run: false,
    });
    expect(mark.statusCode, mark.body).toBe(200);
    expect(
      (await call('GET', `/dags/etl_daily/dagRuns/${enc}/taskInstances/load`, 'viewer')).json().state,
    ).toBe('failed');
    const patched = await call('PATCH', `/dags/etl_daily/dagRuns/${enc}`, 'user', { state: 'success' });
    expect(patched.json().state).toBe('success');
    expect(
      (await call('PATCH', `/dags/etl_daily/dagRuns/${enc}`, 'user', { state: 'bogus' })).statusCode,
    ).toBe(400);
    expect((await call('DELETE', `/dags/etl_daily/dagRuns/${enc}`, 'user')).statusCode).toBe(204);
    expect((await call('GET', `/dags/etl_daily/dagRuns/${enc}`, 'viewer')).statusCode).toBe(404);
  });
});

describe('variables, connections, pools, import errors, config', () => {
  it('variables CRUD with sensitive values masked', async () => {
    expect((await call('POST', '/variables', 'op', { key: 'env', value: 'prod' })).json()).toMatchObject({
      key: 'env',
      value: 'prod',
    });
    expect(
      (await call('POST', '/variables', 'op', { key: 'db_password', value: 's3cret' })).json().value,
    ).toBe('***');
    expect((await call('PATCH', '/variables/env', 'op', { value: 'staging' })).json().value).toBe('staging');
    const list = (await call('GET', '/variables', 'op')).json();
    expect(list.total_entries).toBe(2);
    expect(JSON.stringify(list)).not.toContain('s3cret');
    expect((await call('POST', '/variables', 'op', { key: 'bad key!', value: 'x' })).statusCode).toBe(400);
    expect((await call('POST', '/variables', 'op', { key: 'k' })).statusCode).toBe(400);
    expect((await call('DELETE', '/variables/env', 'op')).statusCode).toBe(204);
    expect((await call('GET', '/variables/env', 'op')).statusCode).toBe(404);
  });

  it('connections never return passwords', async () => {
    const created = await call('POST', '/connections', 'op', {
      connection_id: 'warehouse',
      conn_type: 'postgres',
      host: 'db',
      login: 'etl',
      password: 'hunter2',
      port: 5432,
      extra: '{"api_key":"abc","region":"eu"}',
    });
    expect(created.statusCode, created.body).toBe(200);
    const got = (await call('GET', '/connections/warehouse', 'op')).json();
    expect(got).toMatchObject({ connection_id: 'warehouse', password: '***', host: 'db' });
    expect(JSON.parse(got.extra)).toEqual({ api_key: '***', region: 'eu' });
    expect(JSON.stringify((await call('GET', '/connections', 'op')).json())).not.toContain('hunter2');
    expect(
      (await call('POST', '/connections', 'op', { connection_id: 'warehouse', conn_type: 'postgres' }))
        .statusCode,
    ).toBe(409);
    expect((await call('DELETE', '/connections/warehouse', 'op')).statusCode).toBe(204);
    expect((await call('DELETE', '/connections/warehouse', 'op')).statusCode).toBe(404);
  });

  it('pools with usage; default_pool cannot be deleted', async () => {
    expect((await call('POST', '/pools', 'op', { name: 'gpu', slots: 2 })).json()).toMatchObject({
      name: 'gpu',
      slots: 2,
      open_slots: 2,
    });
    expect((await call('PATCH', '/pools/gpu', 'op', { slots: 4 })).json().slots).toBe(4);
    expect((await call('POST', '/pools', 'op', { name: 'neg', slots: -5 })).statusCode).toBe(400);
    expect((await call('DELETE', '/pools/default_pool', 'op')).statusCode).toBe(409);
    expect((await call('GET', '/pools', 'op')).json().pools.map((p: { name: string }) => p.name)).toEqual([
      'default_pool',
      'gpu',
    ]);
    expect((await call('DELETE', '/pools/gpu', 'op')).statusCode).toBe(204);
  });

  it('import errors', async () => {
    await f.store.kysely
      .insertInto('import_error')
      .values({
        timestamp: Date.now(),
        filename: '/dags/broken.ts',
        stacktrace: 'SyntaxError: Unexpected token',
      })
      .execute();
    const body = (await call('GET', '/importErrors', 'viewer')).json();
    expect(body.import_errors[0]).toMatchObject({
      filename: '/dags/broken.ts',
      stack_trace: 'SyntaxError: Unexpected token',
    });
    expect(
      (await call('GET', `/importErrors/${body.import_errors[0].import_error_id}`, 'viewer')).statusCode,
    ).toBe(200);
    expect((await call('GET', '/importErrors/999', 'viewer')).statusCode).toBe(404);
  });

  it('config for admins with secrets hidden', async () => {
    const body = (await call('GET', '/config', 'admin')).json();
    const web = body.sections.find((s: { name: string }) => s.name === 'webserver');
    expect(web.options.find((o: { key: string }) => o.key === 'secret_key').value).toBe('< hidden >');
  });

  it('users and roles for admins only, without password hashes', async () => {
    expect((await call('GET', '/users', 'op')).statusCode).toBe(403);
    const list = (await call('GET', '/users', 'admin')).json();
    expect(list.total_entries).toBe(5);
    expect(list.users.find((u: { username: string }) => u.username === 'viewer').roles).toEqual([
      { name: 'Viewer' },
    ]);
    expect(JSON.stringify(list)).not.toContain('scrypt');
    expect((await call('GET', '/users/op', 'admin')).json().email).toBe('op@example.com');
    expect((await call('GET', '/users/nobody', 'admin')).statusCode).toBe(404);
    const roles = (await call('GET', '/roles', 'admin')).json();
    expect(roles.roles.map((r: { name: string }) => r.name)).toEqual([
      'Public',
      'Viewer',
      'User',
      'Op',
      'Admin',
    ]);
  });

  it('delete a DAG', async () => {
    expect((await call('DELETE', '/dags/reporting', 'viewer')).statusCode).toBe(403);
    expect((await call('DELETE', '/dags/reporting', 'user')).statusCode).toBe(204);
    expect((await call('GET', '/dags/reporting', 'viewer')).statusCode).toBe(404);
  });
});

describe('auth backend settings', () => {
  it('deny_all blocks the API, /health stays open', async () => {
    const g = await startWebFixture('sqlite', {
      AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.deny_all',
    });
    try {
      const res = await g.app.inject({ url: '/api/v1/dags', headers: { authorization: basic('admin') } });
      expect(res.statusCode).toBe(403);
      expect((await g.app.inject({ url: '/health' })).statusCode).toBe(200);
    } finally {
      await g.close();
    }
  });

  it('the default (session only) refuses basic auth; the old singular auth_backend key enables it', async () => {
    const g = await startWebFixture('sqlite');
    const h = await startWebFixture('sqlite', {
      AIRFLOW__API__AUTH_BACKEND: 'airflow.api.auth.backend.basic_auth',
      AIRFLOW__WEBSERVER__LOGIN_RATE_LIMIT: '3',
    });
    try {
      expect(
        (await g.app.inject({ url: '/api/v1/dags', headers: { authorization: basic('admin') } })).statusCode,
      ).toBe(401);
      expect(
        (await h.app.inject({ url: '/api/v1/dags', headers: { authorization: basic('admin') } })).statusCode,
      ).toBe(200);
      // Rate limit: after 3 failures in a minute this user is refused from this address (429);
      // another user at the same address is not.
      for (let i = 0; i < 3; i++)
        expect(
          (await h.app.inject({ url: '/api/v1/dags', headers: { authorization: basic('admin', 'nope') } }))
            .statusCode,
        ).toBe(401);
      expect(
        (await h.app.inject({ url: '/api/v1/dags', headers: { authorization: basic('admin', 'nope') } }))
          .statusCode,
      ).toBe(429);
      expect(
        (await h.app.inject({ url: '/api/v1/dags', headers: { authorization: basic('viewer') } })).statusCode,
      ).toBe(200);
    } finally {
      await g.close();
      await h.close();
    }
  });
});
