import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { uiGuard } from '../auth/guard.js';
import type { Action } from '../auth/roles.js';
import type { WebContext } from '../web-context.js';
import type { SafeHtml } from './html.js';
import { banners, renderPage } from './layout.js';

/** Route helpers for UI pages (GET, rendered in the layout) and UI actions (POST + redirect). */
const FLASH_COOKIE = 'updraft_flash';

export interface PageResult {
  title: string;
  body: SafeHtml;
}

export function page(
  server: FastifyInstance,
  web: WebContext,
  url: string,
  action: Action,
  handler: (request: FastifyRequest) => Promise<PageResult>,
): void {
  server.get(url, { preHandler: uiGuard(action) }, async (request, reply) => {
    const bannerHtml = banners(web);
    bannerHtml.catch(() => undefined); // awaited below; avoid an unhandled rejection if the page fails first
    const result = await handler(request);
    const flash = request.cookies[FLASH_COOKIE] ?? null;
    if (flash) reply.clearCookie(FLASH_COOKIE, { path: '/' });
    const text = await renderPage(web, request, { ...result, flash, banners: bannerHtml });
    return reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(text);
  });
}

/** A state-changing form post: checked for role and CSRF, then redirected (post/redirect/get). */
export function act(
  server: FastifyInstance,
  url: string,
  action: Action,
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<{ redirect: string; flash?: string }>,
): void {
  server.post(url, { preHandler: uiGuard(action) }, async (request, reply) =>
    redirectAfterAction(reply, await handler(request, reply)),
  );
}

/** Post/redirect/get with an optional message shown once on the next page. */
export function redirectAfterAction(
  reply: FastifyReply,
  { redirect, flash }: { redirect: string; flash?: string },
): FastifyReply {
  if (flash) reply.setCookie(FLASH_COOKIE, flash, { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 60 });
  return reply.redirect(safeRedirect(redirect), 303);
}

/**
 * Only same-origin relative paths, so ?next= cannot send users elsewhere. Browsers drop tabs and
 * newlines inside URLs and read a backslash as a slash, so "/\t/host" or "/\\host" would leave the
 * site: any control character, space or backslash is refused outright (CR/LF could also split the
 * Location header), and what is left must resolve to this origin.
 */
export function safeRedirect(target: string | undefined, fallback = '/home'): string {
  if (!target || !target.startsWith('/') || [...target].some(isUnsafeInUrl)) return fallback;
  const base = 'http://same-origin.invalid';
  let resolved: URL;
  try {
    resolved = new URL(target, base);
  } catch {
    return fallback;
  }
  return resolved.origin === base ? target : fallback;
}

function isUnsafeInUrl(char: string): boolean {
  const code = char.charCodeAt(0);
  return code <= 0x20 || code === 0x7f || char === '\\';
}

export function formField(request: FastifyRequest, name: string): string | undefined {
  const body = (request.body ?? {}) as Record<string, unknown>;
  const value = body[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? String(value[0]) : undefined;
}

export function isChecked(request: FastifyRequest, name: string): boolean {
  const v = formField(request, name);
  return v === 'on' || v === 'true' || v === '1';
}

export function queryParam(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? String(v[0]) : undefined;
}
