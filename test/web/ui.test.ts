import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/web/auth/session.js';
import {
  fixtureDag,
  insertDag,
  schedulerHeartbeat,
  setTaskStates,
  startWebFixture,
  writeTaskLog,
  type WebFixture,
} from './web-fixture.js';
import { InjectSession } from './session-helper.js';

/** UI pages through `inject`: sign-in, sessions, CSRF, rate limiting, role restrictions, pages and actions. */
let f: WebFixture;
const dag = fixtureDag('etl_daily', { tags: ['etl'] });

beforeAll(async () => {
  f = await startWebFixture('sqlite', { AIRFLOW__WEBSERVER__LOGIN_RATE_LIMIT: '3' });
  await insertDag(f.store, dag);
  for (let i = 0; i < 30; i++)
    await insertDag(f.store, fixtureDag(`bulk_${String(i).padStart(2, '0')}`, { tags: ['bulk'] }), {
      paused: i % 3 === 0,
    });
});
afterAll(async () => f?.close());

describe('sign-in and sessions', () => {
  it('pages redirect to sign-in; the session cookie is HttpOnly, SameSite=Lax and signed', async () => {
    const res = await f.app.inject({ url: '/home', headers: { accept: 'text/html' } });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/login?next=%2Fhome');
    const s = new InjectSession(f.app);
    expect((await s.signIn('viewer')).headers.location).toBe('/home');
    const login = await f.app.inject({ url: '/login' });
    const cookie = login.cookies.find((c) => c.name === SESSION_COOKIE)!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Lax');
    // A forged cookie (payload changed, signature kept) is ignored: back to sign-in.
    const signed = s.cookieHeader.match(new RegExp(`${SESSION_COOKIE}=([^;]+)`))![1]!;
    const [body, sig] = signed.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), uid: 1 }),
    ).toString('base64url');
    const res2 = await f.app.inject({
      url: '/home',
      headers: { accept: 'text/html', cookie: `${SESSION_COOKIE}=${forged}.${sig}` },
    });
    expect(res2.statusCode).toBe(302);
  });

  it('sign-in needs the CSRF token, wrong passwords are refused and audited, then rate limited', async () => {
    const s = new InjectSession(f.app, '10.1.2.3');
    await s.get('/login');
    expect(
      (await s.postForm('/login', { username: 'admin', password: 'admin-pass' }, false)).statusCode,
    ).toBe(403);
    for (let i = 0; i < 3; i++) {
      const bad = await s.postForm('/login', { username: 'admin', password: 'wrong' });
      expect(bad.statusCode).toBe(401);
      expect(bad.body).toContain('Invalid username or password');
    }
    const blocked = await s.postForm('/login', { username: 'admin', password: 'admin-pass' });
    expect(blocked.statusCode).toBe(429);
    const audit = await f.store.kysely
      .selectFrom('log')
      .select('event')
      .where('event', '=', 'failed_login')
      .execute();
    expect(audit.length).toBeGreaterThanOrEqual(3);
    // Other addresses are not affected.
    expect((await new InjectSession(f.app, '10.9.9.9').signIn('admin')).statusCode).toBe(303);
  });

  it('sign-out ends the session', async () => {
    const s = new InjectSession(f.app);
    await s.signIn('viewer');
    expect((await s.get('/home')).statusCode).toBe(200);
    expect((await s.postForm('/logout', {})).headers.location).toBe('/login');
    expect((await s.get('/home')).statusCode).toBe(302);
  });

  it('a next= pointing off-site is ignored', async () => {
    const s = new InjectSession(f.app);
    await s.get('/login?next=//evil.example.com/');
    const res = await s.postForm('/login', {
      username: 'user',
      password: 'user-pass',
      next: '//evil.example.com/',
    });
    expect(res.headers.location).toBe('/home');
  });
});

describe('role restrictions on pages and actions', () => {
  const pages: [string, string][] = [
    ['/home', 'viewer'],
    ['/dags/etl_daily/grid', 'viewer'],
    ['/dags/etl_daily/trigger', 'user'],
    ['/variable/list', 'op'],
    ['/connection/list', 'op'],
    ['/pool/list', 'op'],
    ['/users/list', 'admin'],
  ];
  const order = ['public', 'viewer', 'user', 'op', 'admin'];
  for (const [url, minimum] of pages) {
    it(`${url} needs ${minimum}`, async () => {
      for (const who of order) {
        const s = new InjectSession(f.app);
        await s.signIn(who);
        const res = await s.get(url);
        expect(res.statusCode, `${who} ${url}`).toBe(
          order.indexOf(who) >= order.indexOf(minimum) ? 200 : 403,
        );
      }
    });
  }

  it('configuration is hidden unless expose_config, even for admins', async () => {
    const s = new InjectSession(f.app);
    await s.signIn('admin');
    const res = await s.get('/configuration');
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('expose_config');
  });

  it('a viewer cannot pause; a user can, with CSRF, and it is audited', async () => {
    const viewer = new InjectSession(f.app);
    await viewer.signIn('viewer');
    expect((await viewer.postForm('/dags/etl_daily/pause', { is_paused: 'true' })).statusCode).toBe(403);
    const user = new InjectSession(f.app);
    await user.signIn('user');
    expect((await user.postForm('/dags/etl_daily/pause', { is_paused: 'true' }, false)).statusCode).toBe(403);
    expect(
      (await user.postForm('/dags/etl_daily/pause', { is_paused: 'true', next: '/home' })).headers.location,
    ).toBe('/home');
    const row = await f.store.kysely
      .selectFrom('dag')
      .select('is_paused')
      .where('dag_id', '=', 'etl_daily')
      .executeTakeFirstOrThrow();
    expect(row.is_paused).toBe(1);
    const audit = await f.store.kysely
      .selectFrom('log')
      .selectAll()
      .where('event', '=', 'paused')
      .where('dag_id', '=', 'etl_daily')
      .executeTakeFirst();
    expect(audit?.owner).toBe('user');
    await user.postForm('/dags/etl_daily/pause', { is_paused: 'false' });
  });
});

describe('pages', () => {
  it('DAG list: tabs with counts, search, tag filter, pagination', async () => {
    const s = new InjectSession(f.app);
    await s.signIn('viewer');
    const all = (await s.get('/home')).body;
    expect(all).toMatch(/data-count="all">31</);
    expect(all).toMatch(/data-count="paused">10</);
    expect(all).toMatch(/data-count="active">21</);
    expect(all).toContain('Page 1 of 2');
    expect((all.match(/<tr data-dag-id=/g) ?? []).length).toBe(25);
    const page2 = (await s.get('/home?page=2')).body;
    expect((page2.match(/<tr data-dag-id=/g) ?? []).length).toBe(6);
    const search = (await s.get('/home?search=etl_')).body;
    expect((search.match(/<tr data-dag-id=/g) ?? []).length).toBe(1);
    const tagged = (await s.get('/home?tags=etl')).body;
    expect(tagged).toContain('data-dag-id="etl_daily"');
    expect(tagged).not.toContain('data-dag-id="bulk_01"');
    const paused = (await s.get('/home?status=paused')).body;
    expect((paused.match(/<tr data-dag-id=/g) ?? []).length).toBe(10);
  });

  it('scheduler banner when no fresh heartbeat; import errors banner', async () => {
    const s = new InjectSession(f.app);
    await s.signIn('viewer');
    expect((await s.get('/home')).body).toContain('The scheduler does not appear to be running.');
    await schedulerHeartbeat(f.store, Date.now());
    expect((await s.get('/home')).body).not.toContain('The scheduler does not appear to be running.');
    await f.store.kysely
      .insertInto('import_error')
      .values({ timestamp: Date.now(), filename: '/dags/broken.ts', stacktrace: 'SyntaxError: oops <b>' })
      .execute();
    const body = (await s.get('/home')).body;
    expect(body).toContain('DAG Import Errors (1)');
    expect(body).toContain('SyntaxError: oops &lt;b&gt;');
  });

  it('trigger form with params and conf creates a run; DAG tabs and log feed render', async () => {
    const s = new InjectSession(f.app);
    await s.signIn('user');
    const form = await s.get('/dags/etl_daily/trigger');
    expect(form.body).toContain('name="param:who"');
    const res = await s.postForm('/dags/etl_daily/trigger', {
      'param:who': 'ui',
      'param:count': '2',
      conf: '{"extra": true}',
    });
    expect(res.statusCode).toBe(303);
    const run = await f.store.kysely
      .selectFrom('dag_run')
      .selectAll()
      .where('dag_id', '=', 'etl_daily')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(run.conf!)).toEqual({ who: 'ui', count: 2, extra: true });
    const bad = await s.postForm('/dags/etl_daily/trigger', { 'param:count': '0', conf: '{}' });
    expect(bad.statusCode).toBe(400);
    // The form comes back with the message beside the field and the value kept; no run is created.
    expect(bad.body).toMatch(
      /data-param="count"[\s\S]*value="0"[\s\S]*class="field-error"[^>]*>Must be &gt;= 1\./,
    );
    expect(
      await f.store.kysely.selectFrom('dag_run').select('run_id').where('dag_id', '=', 'etl_daily').execute(),
    ).toHaveLength(1);
    expect((await s.postForm('/dags/etl_daily/trigger', { conf: '{not json' })).statusCode).toBe(400);

    await setTaskStates(f.store, dag, run.run_id, { extract: 'success', 'section.transform': 'running' });
    await writeTaskLog(
      f.ctx,
      { dagId: 'etl_daily', runId: run.run_id, taskId: 'section.transform', tryNumber: 1 },
      'working...\n',
    );
    for (const tab of ['grid', 'graph', 'details', 'code', 'runs']) {
      const page = await s.get(`/dags/etl_daily/${tab}`);
      expect(page.statusCode, tab).toBe(200);
    }
    const grid = (
      await s.get(`/dags/etl_daily/grid?run_id=${encodeURIComponent(run.run_id)}&task_id=section.transform`)
    ).body;
    expect(grid).toContain('data-state="running"');
    expect(grid).toContain('group-toggle');
    expect(grid).toContain('data-group="section"');
    expect(grid).toContain('data-log-url=');
    const feed = await s.api(
      'GET',
      `/ui/log?dag_id=etl_daily&run_id=${encodeURIComponent(run.run_id)}&task_id=section.transform&try_number=1`,
    );
    expect(feed.json()).toMatchObject({ content: 'working...\n', finished: false });
    expect((await s.get('/dags/etl_daily/code')).body).toContain('source of etl_daily');
    for (const url of ['/dagrun/list', '/taskinstance/list', '/job/list', '/log/list'])
      expect((await s.get(url)).statusCode, url).toBe(200);
    expect((await s.get('/log/list')).body).toContain('trigger');
  });
});

describe('trigger form errors', () => {
  it('a quick trigger of a DAG whose param has no default comes back as the form, the message beside that field', async () => {
    await insertDag(f.store, {
      ...fixtureDag('needs_region'),
      params: { region: { schema: { type: 'string', enum: ['eu', 'us'] } } },
    });
    const s = new InjectSession(f.app);
    await s.signIn('admin');
    const res = await s.postForm('/dags/needs_region/trigger', { conf: '{}' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(
      /data-param="region"[\s\S]*<select[\s\S]*class="field-error"[^>]*>[^<]*required/,
    );
    expect(res.body).toContain('<nav>');
    const runs = await f.store.kysely
      .selectFrom('dag_run')
      .select('run_id')
      .where('dag_id', '=', 'needs_region')
      .execute();
    expect(runs).toEqual([]);
  });
});
