import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The short-lived token with which a webserver (or CLI) asks a worker for a task log, as Airflow's
 * serve_logs does with its JWT: `base64url(JSON {aud, filename, exp}).base64url(HMAC-SHA256)`
 * keyed by the [webserver] secret_key every host shares. It names the one log file it opens and
 * expires after a few seconds, so a token seen on the wire is useless for anything else.
 */
const AUDIENCE = 'task-instance-logs';
export const LOG_TOKEN_LIFETIME_MS = 30_000;

interface LogTokenClaims {
  aud: string;
  filename: string;
  exp: number;
}

function sign(secretKey: string, body: string): string {
  return createHmac('sha256', secretKey).update(body).digest('base64url');
}

export function createLogToken(secretKey: string, filename: string, now = Date.now()): string {
  if (!secretKey) throw new Error('[webserver] secret_key is empty: worker logs cannot be requested');
  const claims: LogTokenClaims = { aud: AUDIENCE, filename, exp: now + LOG_TOKEN_LIFETIME_MS };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${sign(secretKey, body)}`;
}

/** Why a token is refused, or null when it allows reading `filename`. */
export function checkLogToken(
  secretKey: string,
  token: string | undefined,
  filename: string,
  now = Date.now(),
): string | null {
  if (!secretKey) return 'this worker has no [webserver] secret_key';
  if (!token) return 'no token';
  const dot = token.indexOf('.');
  if (dot <= 0) return 'malformed token';
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'utf8');
  const expected = Buffer.from(sign(secretKey, body), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'bad signature (is [webserver] secret_key the same on every host?)';
  let claims: Partial<LogTokenClaims>;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<LogTokenClaims>;
  } catch {
    return 'malformed token';
  }
  if (claims.aud !== AUDIENCE) return 'wrong audience';
  if (typeof claims.exp !== 'number' || claims.exp <= now)
    return 'expired token (are the hosts’ clocks in step?)';
  if (claims.filename !== filename) return 'the token is for another file';
  return null;
}
