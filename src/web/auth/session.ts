import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Stateless sessions: the cookie holds `base64url(JSON payload).base64url(HMAC-SHA256)` keyed by
 * webserver.secret_key, so every webserver node sharing the key accepts it. Anonymous visitors get
 * a session too (uid null) so the sign-in form has a CSRF token before anyone signs in.
 */
export const SESSION_COOKIE = 'updraft_session';

export interface SessionData {
  /** Signed-in user id, or null for an anonymous session. */
  uid: number | null;
  /** The row in table `session` a signed-in session stands on (session-store.ts); null when anonymous. */
  sid: string | null;
  /** CSRF token every state-changing UI request must echo back. */
  csrf: string;
  /** Expiry, epoch milliseconds. */
  exp: number;
}

export class SessionCodec {
  private readonly key: Buffer;

  constructor(
    secretKey: string,
    private readonly lifetimeMs: number,
  ) {
    // An empty key would make signatures forgeable; fall back to a per-process random key
    // (sessions then end with the process), never to a constant.
    this.key = secretKey ? Buffer.from(secretKey, 'utf8') : randomBytes(32);
  }

  /** An anonymous session. */
  create(now = Date.now()): SessionData {
    return { uid: null, sid: null, csrf: randomBytes(18).toString('base64url'), exp: now + this.lifetimeMs };
  }

  /** A signed-in session standing on session row `sid`. */
  createSignedIn(uid: number, sid: string, now = Date.now()): SessionData {
    return { ...this.create(now), uid, sid };
  }

  expiryFrom(now = Date.now()): number {
    return now + this.lifetimeMs;
  }

  encode(session: SessionData): string {
    const body = Buffer.from(JSON.stringify(session)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The session in a cookie value, or null when it is missing, tampered with, or expired. */
  decode(value: string | undefined, now = Date.now()): SessionData | null {
    if (!value) return null;
    const dot = value.indexOf('.');
    if (dot <= 0) return null;
    const body = value.slice(0, dot);
    // The signature text itself is compared, not its decoded bytes: base64url decoding ignores the
    // spare low bits of the last character, so a different text could decode to the same bytes.
    const given = Buffer.from(value.slice(dot + 1), 'utf8');
    const expected = Buffer.from(this.sign(body), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      const data = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SessionData;
      if (typeof data.exp !== 'number' || data.exp <= now || typeof data.csrf !== 'string') return null;
      if (data.uid === null) return { ...data, sid: null };
      if (typeof data.uid !== 'number' || typeof data.sid !== 'string') return null;
      return data;
    } catch {
      return null;
    }
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.lifetimeMs / 1000);
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
