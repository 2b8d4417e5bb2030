import type { FastifyRequest } from 'fastify';
import type { Problem } from '../http-errors.js';
import type { WebContext } from '../web-context.js';
import { html, type SafeHtml } from './html.js';
import { renderPage } from './layout.js';

/**
 * The HTML page a browser gets for an error: the usual header and navigation, what went wrong,
 * and what to do next. Falls back to a plain page when the layout itself cannot be drawn (no
 * session on a static path, or the database is what failed).
 */
export async function renderErrorPage(
  web: WebContext,
  request: FastifyRequest,
  problem: Problem,
): Promise<string> {
  const body = html`<div class="error-page" data-status="${problem.status}">
    <h1>${problem.status} ${problem.title}</h1>
    <p class="error-detail">${problem.detail}</p>
    <h2>What to do next</h2>
    ${nextSteps(request, problem.status)}
  </div>`;
  if (!request.session) return plainPage(problem, body);
  try {
    return await renderPage(web, request, { title: `${problem.status} ${problem.title}`, body });
  } catch {
    return plainPage(problem, body);
  }
}

function plainPage(problem: Problem, body: SafeHtml): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${problem.status} ${problem.title}</title>
        <link rel="stylesheet" href="/static/app.css" />
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/home">Updraft</a>
          <nav><a href="/home">DAGs</a></nav>
        </header>
        <main>${body}</main>
      </body>
    </html>`.value;
}

/** The page the browser came from, when it is on this site (a path, never another origin). */
function sameSiteReferer(request: FastifyRequest): string | null {
  const referer = request.headers.referer;
  if (!referer) return null;
  try {
    const url = new URL(referer);
    if (url.host !== request.headers.host) return null;
    const path = `${url.pathname}${url.search}`;
    return path.startsWith('/') && !path.startsWith('//') ? path : null;
  } catch {
    return null;
  }
}

function nextSteps(request: FastifyRequest, status: number): SafeHtml {
  const back = sameSiteReferer(request);
  const backLink = back
    ? html`<li><a href="${back}" id="error-back">Go back to the previous page</a></li>`
    : '';
  const home = html`<li><a href="/home">Go to the DAG list</a></li>`;
  switch (status) {
    case 400:
    case 409:
    case 413:
    case 415:
      return html`<ul>
        <li>Check the values you sent: the message above names what was wrong.</li>
        ${backLink}${home}
      </ul>`;
    case 403:
      return html`<ul>
        <li>
          You are signed in as <b>${request.principal?.username ?? 'nobody'}</b> with the role
          <b>${request.principal?.role ?? 'Public'}</b>, which does not allow this.
        </li>
        <li>Ask an administrator for a role that does (Op or Admin for changes, Admin for users).</li>
        ${backLink}${home}
      </ul>`;
    case 404:
      return html`<ul>
        <li>The DAG, run or page may have been deleted or renamed, or the address mistyped.</li>
        <li>
          <form method="get" action="/home" class="inline">
            <label>Search the DAGs <input type="search" name="search" aria-label="Search DAGs" /></label>
            <button type="submit">Search</button>
          </form>
        </li>
        ${backLink}${home}
      </ul>`;
    case 429:
      return html`<ul>
        <li>Wait a minute and try again.</li>
        ${home}
      </ul>`;
    default:
      return html`<ul>
        <li>Something failed on the server. Try again in a moment.</li>
        <li>If it keeps happening, the webserver log has the details; an administrator can check it.</li>
        ${backLink}${home}
      </ul>`;
  }
}
