import type { FastifyRequest } from 'fastify';
import { can } from '../auth/roles.js';
import { schedulerIsHealthy } from '../data/health.js';
import { healthThresholds, UPDRAFT_VERSION, type WebContext } from '../web-context.js';
import { API_REFERENCE_PATH } from './api-reference.js';
import { fmtTime, html, raw, type SafeHtml } from './html.js';

export interface PageOptions {
  title: string;
  body: SafeHtml;
  /** Skip the DB-backed banners (sign-in page). */
  bare?: boolean;
  flash?: string | null;
  /** Banners already being fetched (pages start them alongside their own queries). */
  banners?: Promise<SafeHtml>;
}

/** Banners every signed-in page shows: scheduler down, DAG import errors. Live-refreshed. */
export async function banners(web: WebContext): Promise<SafeHtml> {
  const [{ healthy, latest }, errors] = await Promise.all([
    schedulerIsHealthy(web.db, healthThresholds(web.app)),
    web.db
      .selectFrom('import_error')
      .select(['filename', 'stacktrace'])
      .orderBy('timestamp', 'desc')
      .limit(20)
      .execute(),
  ]);
  const scheduler = healthy
    ? ''
    : html`<div class="banner warn" id="scheduler-banner">
        The scheduler does not appear to be running.
        ${
          latest ? `Last heartbeat was received ${fmtTime(latest)}.` : 'No heartbeat has been received yet.'
        }<br /><span class="muted">The DAGs list may not update, and new tasks will not be scheduled.</span>
      </div>`;
  const importErrors = errors.length
    ? html`<details class="banner error" id="import-errors-banner">
        <summary>DAG Import Errors (${errors.length})</summary>
        ${errors.map(
          (e) =>
            html`<pre><b>${e.filename}</b>
${e.stacktrace}</pre>`,
        )}
      </details>`
    : '';
  return html`<div data-live="banners">${scheduler}${importErrors}</div>`;
}

export async function renderPage(web: WebContext, request: FastifyRequest, o: PageOptions): Promise<string> {
  const principal = request.principal;
  const role = principal?.role ?? 'Public';
  const nav = principal
    ? html`<nav>
          <a href="/home">DAGs</a>
          <details>
            <summary>Browse</summary>
            <div>
              <a href="/dagrun/list">DAG Runs</a><a href="/taskinstance/list">Task Instances</a>
              <a href="/job/list">Jobs</a><a href="/log/list">Audit Log</a>
            </div>
          </details>
          ${
            can(role, 'manage_resources')
              ? html`<details>
                  <summary>Admin</summary>
                  <div>
                    <a href="/variable/list">Variables</a><a href="/connection/list">Connections</a
                    ><a href="/pool/list">Pools</a>
                    ${can(role, 'manage_users') ? html`<a href="/users/list">Users</a>` : ''}
                    ${can(role, 'read_config') && web.app.config.values.webserver.expose_config ? html`<a href="/configuration">Configuration</a>` : ''}
                  </div>
                </details>`
              : ''
          }
          <a href="${API_REFERENCE_PATH}/" title="REST API reference (Swagger UI)">API</a>
        </nav>
        <div class="user">
          <span>${principal.username} (${role})</span>
          <form class="inline" method="post" action="/logout">
            <input type="hidden" name="csrf_token" value="${request.session.csrf}" /><button
              class="link"
              type="submit"
            >
              Sign out
            </button>
          </form>
        </div>`
    : html`<nav></nav>`;
  const top = o.bare || !principal ? '' : await (o.banners ?? banners(web));
  const flash = o.flash ? html`<div class="flash">${o.flash}</div>` : '';
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="csrf-token" content="${request.session.csrf}" />
        <title>${o.title} - ${web.app.config.values.webserver.instance_name}</title>
        <link rel="stylesheet" href="/static/app.css" />
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
      </head>
      <body data-refresh-ms="3000">
        <header class="top">
          <a class="brand" href="/home">${web.app.config.values.webserver.instance_name}</a>${nav}<span
            class="muted"
            >v${UPDRAFT_VERSION}</span
          >
        </header>
        <main>${top}${flash}${o.body}</main>
        <script src="/static/app.js" defer></script>
      </body>
    </html>`.value;
}

export function csrfField(request: FastifyRequest): SafeHtml {
  return raw(`<input type="hidden" name="csrf_token" value="${request.session.csrf}">`);
}

export function stateBadge(state: string | null | undefined): SafeHtml {
  const s = state ?? 'none';
  return html`<span
    class="count state-${s}"
    title="${s}"
    style="min-width:auto;padding:0 8px;border-color:rgba(0,0,0,.2);color:${['running', 'success', 'failed', 'queued', 'deferred'].includes(s) && s !== 'running' ? '#fff' : '#222'}"
    >${s}</span
  >`;
}

/** What the pause toggle says on hover, including why it cannot be used. */
export function toggleTitle(paused: boolean, canOperate: boolean, role: string): string {
  const state = paused ? 'Paused' : 'Active';
  if (!canOperate) return `${state}. Your role (${role}) cannot pause or unpause DAGs; an Op or Admin can.`;
  return paused ? 'Paused: click to unpause' : 'Active: click to pause';
}
