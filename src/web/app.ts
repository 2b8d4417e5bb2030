import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import { parseApiAuthBackends } from './auth/api-backends.js';
import { loadSession, type GuardDeps } from './auth/guard.js';
import { SignInLimiter } from './auth/rate-limit.js';
import { SessionCodec } from './auth/session.js';
import { SessionStore } from './auth/session-store.js';
import { CredentialCache, PrincipalCache } from './auth/users.js';
import { sendClientError, sendError, type Problem } from './http-errors.js';
import { MAX_PARAM_LENGTH, boundJsonDepth, formatSchemaErrors } from './request-limits.js';
import { apiEndpoints, registerApi } from './api/routes.js';
import { openApiDocument } from './api/openapi.js';
import { parseQuery } from './api/query.js';
import { registerApiReference } from './ui/api-reference.js';
import { renderErrorPage } from './ui/error-page.js';
import { registerUi } from './ui/routes.js';
import { healthReport } from './data/health.js';
import { ServedSecrets } from './data/served-secrets.js';
import { UPDRAFT_VERSION, healthThresholds, type WebContext } from './web-context.js';

/**
 * The web application: UI pages, the REST API under /api/v1, /health and /version. Built without
 * listening so tests can drive it with `inject` and the CLI can bind it to a port.
 */
export async function buildWebApp(app: AppContext): Promise<FastifyInstance> {
  const metadata = await app.db();
  const values = app.config.values;
  const guard: GuardDeps = {
    db: metadata.kysely,
    store: metadata,
    sessions: new SessionCodec(
      values.webserver.secret_key,
      values.webserver.session_lifetime_minutes * 60_000,
    ),
    sessionStore: new SessionStore(metadata.kysely),
    apiBackends: parseApiAuthBackends(values.api.auth_backends),
    credentials: new CredentialCache(),
    principals: new PrincipalCache(),
    limiter: new SignInLimiter(metadata, values.webserver.login_rate_limit),
    secureCookies: values.webserver.base_url.startsWith('https://'),
  };
  const web: WebContext = {
    app,
    db: metadata.kysely,
    store: metadata,
    guard,
    secrets: new ServedSecrets(app, metadata),
  };

  const log = app.log.child('webserver');
  // Unknown body fields are rejected, not silently dropped, and types are not coerced: bad input is
  // a 400 naming the field. The router's and Node's own refusals (414, 400 bad URL, 431) answer
  // problem+json like the rest.
  const server = Fastify({
    logger: false,
    trustProxy: false,
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    schemaErrorFormatter: formatSchemaErrors,
    frameworkErrors: (error, request, reply) => sendError(error, request, reply, { log }),
    clientErrorHandler: sendClientError,
  });
  boundJsonDepth(server);
  await server.register(cookie);
  await server.register(formbody);
  server.decorateRequest('session', null as never);
  server.decorateRequest('principal', null);
  const htmlPage = (request: FastifyRequest, problem: Problem) => renderErrorPage(web, request, problem);
  server.setErrorHandler((error, request, reply) => sendError(error, request, reply, { log, htmlPage }));
  server.setNotFoundHandler((request, reply) =>
    sendError(new NotFoundError(`Nothing at ${request.method} ${request.url}.`), request, reply, {
      log,
      htmlPage,
    }),
  );
  server.addHook('onRequest', async (request, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'same-origin');
    // Scripts only from our own /static/app.js (no inline script anywhere), so injected markup cannot run code.
    reply.header(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    );
    if (request.url === '/health' || request.url === '/version' || request.url.startsWith('/static/')) return;
    await loadSession(guard, request, reply);
  });

  server.get('/health', async () => healthReport(web.db, healthThresholds(app)));
  server.get('/version', async () => ({ version: UPDRAFT_VERSION, git_version: null }));

  const endpoints = apiEndpoints(web);
  const document = openApiDocument(endpoints);
  server.get(
    '/api/v1/openapi.json',
    // Like every /api/v1 endpoint: a query parameter it does not know is a 400.
    { preValidation: async (request) => void parseQuery({}, request.query) },
    async () => document,
  );
  await registerApiReference(server, document);
  registerApi(server, web, endpoints);
  registerUi(server, web);
  return server;
}
