import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { passwordOf } from './web-fixture.js';

/** A browser-like client for `inject`: keeps cookies and reads the CSRF token pages carry. */
export class InjectSession {
  private cookies = new Map<string, string>();
  csrf = '';

  constructor(
    private readonly app: FastifyInstance,
    /** Client address (the login rate limit counts per address). */
    private readonly remoteAddress = '127.0.0.1',
  ) {}

  private remember(res: LightMyRequestResponse): void {
    for (const c of res.cookies) {
      if (c.value === '' || (c.maxAge !== undefined && c.maxAge <= 0)) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const match = /name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"/.exec(res.body);
    if (match) this.csrf = match[1] ?? match[2]!;
  }

  get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({
      method: 'GET',
      url,
      remoteAddress: this.remoteAddress,
      headers: { accept: 'text/html', cookie: this.cookieHeader, ...headers },
    });
    this.remember(res);
    return res;
  }

  async postForm(
    url: string,
    form: Record<string, string>,
    withCsrf = true,
  ): Promise<LightMyRequestResponse> {
    const body = new URLSearchParams(withCsrf ? { csrf_token: this.csrf, ...form } : form).toString();
    const res = await this.app.inject({
      method: 'POST',
      url,
      remoteAddress: this.remoteAddress,
      payload: body,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'text/html',
        cookie: this.cookieHeader,
      },
    });
    this.remember(res);
    return res;
  }

  async api(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> {
    return this.app.inject({
      method,
      url,
      remoteAddress: this.remoteAddress,
      payload: payload as never,
      headers: { cookie: this.cookieHeader, ...headers },
    });
  }

  async signIn(username: string, password = passwordOf(username)): Promise<LightMyRequestResponse> {
    await this.get('/login');
    const res = await this.postForm('/login', { username, password, next: '/home' });
    // Signing in issues a new session with a new CSRF token; read it from the next page.
    if (res.statusCode === 303) await this.get('/home');
    return res;
  }
}
