import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage, isUpdraftError, type ErrorKind } from '../errors.js';
import { isConnectionLost } from '../db/outage-retry.js';
import type { Logger } from '../log.js';

/**
 * The one place where errors become HTTP statuses. API callers get RFC 7807 problem JSON (the
 * shape of Airflow's stable API); browsers on UI pages get a small HTML page.
 */
const STATUS_BY_KIND: Partial<Record<ErrorKind, number>> = {
  validation: 400,
  usage: 400,
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  forbidden: 403,
  rate_limited: 429,
  timeout: 504,
  database: 503,
};

const TITLE_BY_STATUS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

export function problemFor(error: unknown): Problem {
  let status = 500;
  let detail = 'An internal error occurred.';
  if (isUpdraftError(error)) {
    status = STATUS_BY_KIND[error.kind] ?? 500;
    if (status !== 500) detail = error.message;
  } else if (isConnectionLost(error)) {
    // The metadata database is down or restarting: a temporary condition, not a server bug.
    status = 503;
    detail = 'The metadata database is unreachable. Try again shortly.';
  } else if (isFastifyClientError(error)) {
    // Fastify's own schema/body-parser/router errors (bad JSON, too large, a path segment too
    // long, a malformed URL) carry a 4xx statusCode.
    status = error.statusCode!;
    detail = FRAMEWORK_DETAIL[error.code] ?? error.message;
  }
  const title = TITLE_BY_STATUS[status] ?? 'Error';
  return { type: `about:blank#${status}`, title, status, detail };
}

/** Clearer words than fastify's for errors whose message echoes the whole URL back. */
const FRAMEWORK_DETAIL: Record<string, string> = {
  FST_ERR_MAX_PARAM_LENGTH: 'A segment of the URL path is too long.',
  FST_ERR_BAD_URL: 'The URL is not validly percent-encoded.',
};

function isFastifyClientError(error: unknown): error is FastifyError {
  const code = (error as FastifyError | undefined)?.statusCode;
  return typeof code === 'number' && code >= 400 && code < 500;
}

/** Draws the HTML error page for browsers (the UI's layout); without one, a minimal page. */
export type HtmlErrorPage = (request: FastifyRequest, problem: Problem) => Promise<string>;

export interface SendErrorOptions {
  /** Where 500s (with their stack) and 503s are logged. */
  log?: Logger;
  htmlPage?: HtmlErrorPage;
}

export async function sendError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  { log, htmlPage }: SendErrorOptions = {},
): Promise<FastifyReply> {
  const problem = problemFor(error);
  // The answer hides what went wrong; the log must not.
  if (problem.status === 500)
    log?.error(
      `${request.method} ${request.url} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  if (problem.status === 503) {
    log?.warn(`${request.method} ${request.url}: metadata database unreachable (${errorMessage(error)})`);
    reply.header('Retry-After', '5');
  }
  if (problem.status === 401 && request.url.startsWith('/api/')) {
    reply.header('WWW-Authenticate', 'Basic realm="Updraft"');
  }
  if (wantsHtml(request)) {
    if (problem.status === 401) return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`);
    return reply
      .status(problem.status)
      .type('text/html; charset=utf-8')
      .send(
        htmlPage
          ? await htmlPage(request, problem)
          : `<!doctype html><meta charset="utf-8"><title>${problem.status} ${problem.title}</title>` +
              `<link rel="stylesheet" href="/static/app.css"><main class="error-page"><h1>${problem.status} ${problem.title}</h1>` +
              `<p>${escapeText(problem.detail)}</p><p><a href="/home">Back to DAGs</a></p></main>`,
      );
  }
  return reply.status(problem.status).type('application/problem+json').send(problem);
}

function wantsHtml(request: FastifyRequest): boolean {
  if (request.url.startsWith('/api/') || request.url.startsWith('/ui/')) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Node's HTTP parser refuses some requests before fastify sees them (headers over 16 KB, which
 * includes a very long URL: 431; a malformed request: 400; too slow: 408). There is no request
 * or reply then, only the socket: the answer is written raw, as problem+json like every other.
 */
export function sendClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request line and headers are larger than the server accepts (16 KB).']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request was not received in time.']
        : [400, 'The request is not valid HTTP.'];
  const title = TITLE_BY_STATUS[status] ?? 'Error';
  const body = JSON.stringify({ type: `about:blank#${status}`, title, status, detail } satisfies Problem);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(error);
}
