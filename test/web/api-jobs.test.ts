import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, startWebFixture, type WebFixture } from './web-fixture.js';

/** GET /api/v1/jobs: the job table (workers among them) with Airflow's liveness rule. */
let f: WebFixture;
const get = (url: string, user: string | null = 'viewer') =>
  f.app.inject({ url: `/api/v1${url}`, headers: user ? { authorization: basic(user) } : {} });

const job = (
  job_type: string,
  hostname: string,
  state: 'running' | 'success' | 'failed',
  heartbeatAgoMs: number,
) => {
  const at = Date.now() - heartbeatAgoMs;
  return {
    dag_id: null,
    state,
    job_type,
    start_date: at - 60_000,
    end_date: state === 'running' ? null : at,
    latest_heartbeat: at,
    executor_class: 'CeleryExecutor',
    hostname,
    unixname: 'airflow',
    pid: 4242,
  };
};

beforeAll(async () => {
  f = await startWebFixture('sqlite', {
    AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth',
    AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD: '30',
  });
  await f.store.kysely
    .insertInto('job')
    .values([
      job('SchedulerJob', 'sched-1', 'running', 1_000),
      job('WorkerJob', 'worker-a', 'running', 2_000),
      // Its heartbeat stopped (killed, host lost): still 'running' in the table, but not alive.
      job('WorkerJob', 'worker-b', 'running', 120_000),
      job('WorkerJob', 'worker-a', 'success', 500_000),
    ])
    .execute();
});
afterAll(async () => f?.close());

describe('GET /api/v1/jobs', () => {
  it('lists workers newest first, with is_alive from the heartbeat, filtered by type, host, state and liveness', async () => {
    const res = await get('/jobs?job_type=WorkerJob');
    expect(res.statusCode, res.body).toBe(200);
    let body = res.json();
    expect(body.total_entries).toBe(3);
    expect(
      body.jobs.map((j: { hostname: string; state: string; is_alive: boolean }) => [
        j.hostname,
        j.state,
        j.is_alive,
      ]),
    ).toEqual([
      ['worker-a', 'success', false],
      ['worker-b', 'running', false],
      ['worker-a', 'running', true],
    ]);
    expect(body.jobs[2]).toMatchObject({
      job_type: 'WorkerJob',
      executor_class: 'CeleryExecutor',
      end_date: null,
    });
    expect(body.jobs[2].latest_heartbeat).toMatch(/^\d{4}-\d\d-\d\dT/);

    body = (await get('/jobs?job_type=WorkerJob&is_alive=true')).json();
    expect(body.jobs.map((j: { hostname: string }) => j.hostname)).toEqual(['worker-a']);
    body = (await get('/jobs?job_type=WorkerJob&is_alive=false')).json();
    expect(body.total_entries).toBe(2);
    body = (await get('/jobs?hostname=worker-a&state=running')).json();
    expect(body.total_entries).toBe(1);
    body = (await get('/jobs?limit=1&offset=1')).json();
    expect(body.jobs).toHaveLength(1);
    expect(body.total_entries).toBe(4);
  });

  it('bad filters are 400 problem JSON; no credentials is 401', async () => {
    for (const query of ['state=dead', 'is_alive=maybe', 'limit=0', 'state=running&state=failed']) {
      const res = await get(`/jobs?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    expect((await get('/jobs', null)).statusCode).toBe(401);
  });
});
