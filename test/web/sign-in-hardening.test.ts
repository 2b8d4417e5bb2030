import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebApp } from '../../src/web/index.js';
import { setPassword, addRole } from '../../src/users/index.js';
import { InjectSession } from './session-helper.js';
import { basic, passwordOf, startWebFixture, type WebFixture } from './web-fixture.js';
import type { FastifyInstance } from 'fastify';

/**
 * Sign-in under abuse: parallel guessing against the limit (counted in the metadata database, so a
 * second webserver process on the same database sees the same count), other users at the same
 * address, sessions that outlive sign-out or a password change, and ?next= redirects.
 */
const LIMIT = 10;
let f: WebFixture;
let second: FastifyInstance;

beforeAll(async () => {
  f = await startWebFixture('mysql', {
    AIRFLOW__WEBSERVER__LOGIN_RATE_LIMIT: String(LIMIT),
    AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session',
  });
  // A second webserver on the same database, as a second process or node would be.
  second = await buildWebApp(f.ctx);
});
afterAll(async () => {
  await second?.close();
  await f?.close();
});

async function failLoginCount(username: string): Promise<number> {
  const row = await f.store.kysely
    .selectFrom('ab_user')
    .select('fail_login_count')
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  return Number(row.fail_login_count);
}

async function failedLoginAudits(username: string): Promise<number> {
  const rows = await f.store.kysely
    .selectFrom('log')
    .select('id')
    .where('event', '=', 'failed_login')
    .where('owner', '=', username)
    .execute();
  return rows.length;
}

describe('sign-in rate limit', () => {
  it('80 parallel API guesses across two webservers check at most the limit; failures are audited', async () => {
    const address = '10.20.0.1';
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        (i % 2 ? second : f.app).inject({
          url: '/api/v1/dags',
          remoteAddress: address,
          headers: { authorization: basic('op', `guess-${i}`) },
        }),
      ),
    );
    const statuses = results.map((r) => r.statusCode);
    const checked = statuses.filter((s) => s === 401).length;
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(checked).toBeLessThanOrEqual(LIMIT);
    expect(checked).toBeGreaterThan(0);
    // Passwords really checked: the user row counts them, the audit log holds each one.
    expect(await failLoginCount('op')).toBe(checked);
    expect(await failedLoginAudits('op')).toBe(checked);
    const limited = results.find((r) => r.statusCode === 429)!;
    expect(limited.headers['content-type']).toContain('application/problem+json');
    // The right password of the guessed user from that address is refused too…
    const own = await f.app.inject({
      url: '/api/v1/dags',
      remoteAddress: address,
      headers: { authorization: basic('op') },
    });
    expect(own.statusCode).toBe(429);
    // …but another user at the same address, and the same user elsewhere, still sign in.
    const other = await f.app.inject({
      url: '/api/v1/dags',
      remoteAddress: address,
      headers: { authorization: basic('viewer') },
    });
    expect(other.statusCode).toBe(200);
    const elsewhere = await second.inject({
      url: '/api/v1/dags',
      remoteAddress: '10.20.0.2',
      headers: { authorization: basic('op') },
    });
    expect(elsewhere.statusCode).toBe(200);
  });

  it('40 parallel UI guesses check at most the limit; another user signs in from that address', async () => {
    const address = '10.30.0.1';
    const sessions = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const s = new InjectSession(i % 2 ? second : f.app, address);
        await s.get('/login');
        return s;
      }),
    );
    const results = await Promise.all(
      sessions.map((s, i) =>
        s.postForm('/login', { username: 'user', password: `guess-${i}`, next: '/home' }),
      ),
    );
    const checked = results.filter((r) => r.statusCode === 401).length;
    expect(results.every((r) => r.statusCode === 401 || r.statusCode === 429)).toBe(true);
    expect(checked).toBeLessThanOrEqual(LIMIT);
    expect(await failLoginCount('user')).toBe(checked);
    expect((await new InjectSession(f.app, address).signIn('admin')).statusCode).toBe(303);
  });
});

describe('sessions end', () => {
  it('sign-out ends the session: a copy of the old cookie no longer works, on any webserver', async () => {
    const s = new InjectSession(f.app, '10.40.0.1');
    await s.signIn('viewer');
    const oldCookie = s.cookieHeader;
    expect((await second.inject({ url: '/api/v1/dags', headers: { cookie: oldCookie } })).statusCode).toBe(
      200,
    );
    await s.postForm('/logout', {});
    for (const app of [f.app, second]) {
      const page = await app.inject({ url: '/home', headers: { accept: 'text/html', cookie: oldCookie } });
      expect(page.statusCode).toBe(302);
      expect((await app.inject({ url: '/api/v1/dags', headers: { cookie: oldCookie } })).statusCode).toBe(
        401,
      );
    }
  });

  it('a password change or a role change ends every session of that user', async () => {
    const a = new InjectSession(f.app, '10.40.0.2');
    const b = new InjectSession(second, '10.40.0.3');
    await a.signIn('admin');
    await b.signIn('user');
    expect((await a.get('/home')).statusCode).toBe(200);
    expect((await b.get('/home')).statusCode).toBe(200);
    await setPassword(f.store, { username: 'admin' }, 'a-new-long-password-1');
    await addRole(f.store, { username: 'user' }, 'Op');
    expect((await a.get('/home')).statusCode).toBe(302);
    expect((await b.get('/home')).statusCode).toBe(302);
    expect(
      (await new InjectSession(f.app, '10.40.0.4').signIn('admin', 'a-new-long-password-1')).statusCode,
    ).toBe(303);
    await setPassword(f.store, { username: 'admin' }, passwordOf('admin'));
  });
});

describe('redirect after sign-in', () => {
  const offSite = [
    '/\t/127.0.0.1:18099/phish',
    '//evil.example.com/',
    '/\\evil.example.com',
    'https://evil.example.com/',
    '/\n/evil.example.com',
    '/\r\nSet-Cookie: x=1',
    ' //evil.example.com',
  ];
  it.each(offSite)('next=%j goes to /home', async (next) => {
    const s = new InjectSession(f.app, '10.50.0.1');
    const page = await s.get(`/login?next=${encodeURIComponent(next)}`);
    expect(page.statusCode).toBe(200);
    const res = await s.postForm('/login', { username: 'viewer', password: passwordOf('viewer'), next });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/home');
    // Already signed in: GET /login?next= redirects at once, with the same rule.
    const again = await s.get(`/login?next=${encodeURIComponent(next)}`);
    expect(again.statusCode).toBe(302);
    expect(again.headers.location).toBe('/home');
  });

  it('a same-site path is kept, query included', async () => {
    const s = new InjectSession(f.app, '10.50.0.2');
    await s.get('/login');
    const res = await s.postForm('/login', {
      username: 'viewer',
      password: passwordOf('viewer'),
      next: '/dags/x/grid?a=1',
    });
    expect(res.headers.location).toBe('/dags/x/grid?a=1');
  });
});
