import '@fastify/cookie';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Kysely } from 'kysely';
import type { MetadataDb } from '../../db/index.js';
import type { Database } from '../../db/tables.js';
import { AuthenticationError, PermissionDeniedError } from '../../errors.js';
import type { ApiAuthBackend } from './api-backends.js';
import type { SignInLimiter } from './rate-limit.js';
import { requirePermission, type Action } from './roles.js';
import { SESSION_COOKIE, safeEqual, type SessionCodec, type SessionData } from './session.js';
import type { SessionStore } from './session-store.js';
import { checkSignIn } from './sign-in.js';
import type { CredentialCache, PrincipalCache, Principal } from './users.js';

declare module 'fastify' {
  interface FastifyRequest {
    session: SessionData;
    /** Null until someone signs in (or sends valid API credentials). */
    principal: Principal | null;
  }
}

export interface GuardDeps {
  db: Kysely<Database>;
  store: MetadataDb;
  sessions: SessionCodec;
  sessionStore: SessionStore;
  apiBackends: Set<ApiAuthBackend>;
  credentials: CredentialCache;
  principals: PrincipalCache;
  limiter: SignInLimiter;
  /** Cookies get the Secure flag when the site is served over https. */
  secureCookies: boolean;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function writeSession(reply: FastifyReply, deps: GuardDeps, session: SessionData): void {
  reply.setCookie(SESSION_COOKIE, deps.sessions.encode(session), {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: deps.secureCookies,
    maxAge: deps.sessions.maxAgeSeconds,
  });
}

/** Reads the session cookie on every request; an anonymous session is issued when there is none. */
export async function loadSession(
  deps: GuardDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const decoded = deps.sessions.decode(request.cookies[SESSION_COOKIE]);
  request.session = decoded ?? deps.sessions.create();
  request.principal = null;
  if (!decoded) writeSession(reply, deps, request.session);
  const { uid, sid } = request.session;
  if (uid !== null && sid !== null) {
    const live = await deps.sessionStore.isLive(sid, uid);
    request.principal = live ? await deps.principals.load(deps.store, uid) : null;
    if (!request.principal) {
      // Signed out, revoked (password or role change), or the user was deleted or deactivated:
      // drop back to anonymous.
      request.session = deps.sessions.create();
      writeSession(reply, deps, request.session);
    }
  }
}

/** Start a signed-in session: a session row, and a fresh cookie (new CSRF token) naming it. */
export async function startSession(reply: FastifyReply, deps: GuardDeps, userId: number): Promise<void> {
  const expiry = deps.sessions.expiryFrom();
  const sid = await deps.sessionStore.open(userId, expiry);
  writeSession(reply, deps, { ...deps.sessions.createSignedIn(userId, sid), exp: expiry });
}

/** End the request's session: its row is deleted, so a copy of the old cookie no longer works. */
export async function endSession(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: GuardDeps,
): Promise<void> {
  if (request.session.sid !== null) await deps.sessionStore.close(request.session.sid);
  writeSession(reply, deps, deps.sessions.create());
}

function csrfFrom(request: FastifyRequest): string | undefined {
  const header = request.headers['x-csrf-token'];
  if (typeof header === 'string') return header;
  const body = request.body as Record<string, unknown> | undefined;
  return typeof body?.csrf_token === 'string' ? body.csrf_token : undefined;
}

export function checkCsrf(request: FastifyRequest): void {
  const given = csrfFrom(request);
  if (!given || !safeEqual(given, request.session.csrf)) {
    throw new PermissionDeniedError(
      'The form has expired or did not come from this site (CSRF token missing or wrong). Reload the page and try again.',
    );
  }
}

/** UI pages and UI actions: a signed-in user whose role allows `action`; CSRF on state changes. */
export function uiGuard(action: Action): preHandlerAsyncHookHandler {
  return async (request) => {
    if (!SAFE_METHODS.has(request.method)) checkCsrf(request);
    if (!request.principal) throw new AuthenticationError('Sign in to continue.');
    requirePermission(request.principal.role, action);
  };
}

function basicCredentials(request: FastifyRequest): { username: string; password: string } | null {
  const header = request.headers.authorization;
  if (!header?.startsWith('Basic ')) return null;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * REST API: the backends of [api] auth_backends in order. basic_auth checks the Authorization
 * header, session accepts a signed-in browser session (and then needs the CSRF header on state
 * changes), deny_all accepts nobody.
 */
export function apiGuard(deps: GuardDeps, action: Action): preHandlerAsyncHookHandler {
  return async (request) => {
    const principal = await apiPrincipal(deps, request);
    requirePermission(principal.role, action);
  };
}

async function apiPrincipal(deps: GuardDeps, request: FastifyRequest): Promise<Principal> {
  const backends = deps.apiBackends;
  if (backends.size === 1 && backends.has('deny_all')) {
    throw new PermissionDeniedError('The REST API is disabled ([api] auth_backends = deny_all).');
  }
  const credentials = basicCredentials(request);
  if (credentials && backends.has('basic_auth')) {
    const cachedId = deps.credentials.get(credentials.username, credentials.password);
    const cached = cachedId !== undefined ? await deps.principals.load(deps.store, cachedId) : null;
    const principal =
      cached ?? (await checkSignIn(deps, credentials.username, credentials.password, request.ip));
    deps.credentials.set(credentials.username, credentials.password, principal.userId);
    request.principal = principal;
    return principal;
  }
  if (backends.has('session') && request.principal) {
    if (!SAFE_METHODS.has(request.method)) checkCsrf(request);
    return request.principal;
  }
  throw new AuthenticationError('Authentication required (basic auth or a signed-in session).');
}
