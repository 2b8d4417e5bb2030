import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  basic,
  fixtureDag,
  insertDag,
  schedulerHeartbeat,
  setTaskStates,
  startWebFixture,
  type WebFixture,
} from './web-fixture.js';
import { InjectSession } from './session-helper.js';

/** The queries behind the API and the DAG list on MariaDB and PostgreSQL (SQLite is covered in api.test.ts). */
describe.each(['mysql', 'postgres'] as const)('web on %s', (dialect) => {
  let f: WebFixture;
  const dag = fixtureDag('etl_daily', { tags: ['etl'] });
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, user: string, payload?: unknown) =>
    f.app.inject({
      method,
      url: `/api/v1${url}`,
      payload: payload as never,
      headers: { authorization: basic(user) },
    });

  beforeAll(async () => {
    f = await startWebFixture(dialect, {
      AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth',
    });
    await insertDag(f.store, dag);
    await insertDag(f.store, fixtureDag('etlXdaily', { tags: ['other'] }), { paused: true });
  });
  afterAll(async () => f?.close());

  it('lists, filters (tags, paused, literal pattern) and aggregates', async () => {
    expect((await call('GET', '/dags', 'viewer')).json().total_entries).toBe(2);
    expect(
      (await call('GET', '/dags?tags=etl', 'viewer')).json().dags.map((d: { dag_id: string }) => d.dag_id),
    ).toEqual(['etl_daily']);
    expect(
      (await call('GET', '/dags?paused=true', 'viewer')).json().dags.map((d: { dag_id: string }) => d.dag_id),
    ).toEqual(['etlXdaily']);
    // "_" is matched literally, not as a LIKE wildcard.
    expect(
      (await call('GET', '/dags?dag_id_pattern=l_d', 'viewer'))
        .json()
        .dags.map((d: { dag_id: string }) => d.dag_id),
    ).toEqual(['etl_daily']);
    const run = (await call('POST', '/dags/etl_daily/dagRuns', 'user', { conf: { who: dialect } })).json();
    expect(run.state).toBe('queued');
    await setTaskStates(f.store, dag, run.dag_run_id, { extract: 'success', 'section.transform': 'failed' });
    const tis = (
      await call(
        'GET',
        `/dags/etl_daily/dagRuns/${encodeURIComponent(run.dag_run_id)}/taskInstances?state=success,failed`,
        'viewer',
      )
    ).json();
    expect(tis.total_entries).toBe(2);
    const s = new InjectSession(f.app);
    await s.signIn('viewer');
    const page = (await s.get('/home?search=l_d')).body;
    expect((page.match(/<tr data-dag-id=/g) ?? []).length).toBe(1);
    expect(page).toMatch(/title="success"[^>]*>.*?1<\/a\s*>/s);
  });

  it('every order_by field, the run date filters and the largest offset run on this database', async () => {
    const doc = (await f.app.inject({ url: '/api/v1/openapi.json' })).json();
    let checked = 0;
    type Param = { name: string; in: string; schema: { enum?: string[] } };
    for (const [path, methods] of Object.entries(
      doc.paths as Record<string, { get?: { parameters: Param[] } }>,
    )) {
      const params = methods.get?.parameters ?? [];
      // The lists of top-level collections (the runs list is checked below, across all DAGs).
      if (path.includes('{')) continue;
      const url = path;
      for (const field of params.find((p) => p.name === 'order_by')?.schema.enum ?? []) {
        const res = await call('GET', `${url}?order_by=${field}&offset=2147483647`, 'admin');
        expect(res.statusCode, `${url} ${field}: ${res.body}`).toBe(200);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
    for (const field of doc.paths['/dags/{dag_id}/dagRuns'].get.parameters.find(
      (p: { name: string }) => p.name === 'order_by',
    ).schema.enum as string[]) {
      const res = await call('GET', `/dags/~/dagRuns?order_by=${field}&offset=2147483647`, 'viewer');
      expect(res.statusCode, `${field}: ${res.body}`).toBe(200);
    }
    const filtered = await call(
      'GET',
      '/dags/~/dagRuns?execution_date_gte=2000-01-01&execution_date_lte=2000-01-02&start_date_gte=2000-01-01' +
        '&end_date_lte=2100-01-01&updated_at_gte=2000-01-01',
      'viewer',
    );
    expect(filtered.json()).toEqual({ dag_runs: [], total_entries: 0 });
    const logs = await call('GET', '/eventLogs?after=2000-01-01&before=2100-01-01&owner=user', 'viewer');
    expect(logs.statusCode, logs.body).toBe(200);
  });

  it('health and pools', async () => {
    await schedulerHeartbeat(f.store, Date.now());
    expect((await f.app.inject({ url: '/health' })).json().scheduler.status).toBe('healthy');
    expect((await call('POST', '/pools', 'op', { name: 'gpu', slots: 3 })).json().open_slots).toBe(3);
  });
});
