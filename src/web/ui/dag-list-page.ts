import type { FastifyRequest } from 'fastify';
import { can } from '../auth/roles.js';
import { allTags, listDags, type DagListEntry, type DagListTab } from '../data/dags.js';
import type { WebContext } from '../web-context.js';
import { fmtTime, html, qs, type SafeHtml } from './html.js';
import { queryParam, type PageResult } from './kit.js';
import { csrfField } from './layout.js';

const PAGE_SIZE = 25;
const RUN_STATES = ['queued', 'running', 'success', 'failed'];
const TASK_STATES = [
  'success',
  'running',
  'failed',
  'upstream_failed',
  'skipped',
  'up_for_retry',
  'up_for_reschedule',
  'queued',
  'scheduled',
  'deferred',
  'removed',
  'restarting',
  'none',
];

function stateCounts(
  counts: Record<string, number>,
  states: string[],
  link: (state: string) => string,
): SafeHtml {
  return html`<div class="counts">
    ${states
      .filter((s) => counts[s])
      .map(
        (s) =>
          html`<a class="count" href="${link(s)}" title="${s}" data-state="${s}"
            ><span
              class="state-${s}"
              style="display:inline-block;width:8px;height:8px;border-radius:4px;margin-right:3px"
            ></span
            >${counts[s]}</a
          >`,
      )}
  </div>`;
}

function row(request: FastifyRequest, e: DagListEntry, canOperate: boolean, back: string): SafeHtml {
  const d = e.dag;
  const id = d.dag_id;
  const enc = encodeURIComponent(id);
  return html`<tr data-dag-id="${id}">
    <td>
      <form method="post" action="/dags/${enc}/pause">
        ${csrfField(request)}<input type="hidden" name="next" value="${back}" />
        <input type="hidden" name="is_paused" value="${d.is_paused ? 'false' : 'true'}" />
        <input
          class="switch"
          type="checkbox"
          aria-label="Pause/unpause ${id}"
          title="${d.is_paused ? 'Paused: click to unpause' : 'Active: click to pause'}"
          data-autosubmit
          ${d.is_paused ? '' : 'checked'}
          ${canOperate ? '' : 'disabled'}
        />
      </form>
    </td>
    <td>
      <a href="/dags/${enc}/grid"><b>${id}</b></a
      ><br />${e.tags.map((t) => html`<a class="tag" href="/home${qs({ tags: t })}">${t}</a>`)}
    </td>
    <td>${d.owners}</td>
    <td>${stateCounts(e.runCounts, RUN_STATES, (s) => `/dagrun/list${qs({ dag_id: id, state: s })}`)}</td>
    <td>
      <code>${d.schedule_interval ?? 'None'}</code
      >${d.timetable_description ? html`<br /><span class="muted">${d.timetable_description}</span>` : ''}
    </td>
    <td>
      ${e.lastRun ? html`<a href="/dags/${enc}/grid${qs({ run_id: e.lastRun.runId })}">${fmtTime(e.lastRun.logicalDate)}</a>` : ''}
    </td>
    <td>${fmtTime(d.next_dagrun)}</td>
    <td>
      ${stateCounts(e.recentTaskCounts, TASK_STATES, (s) => `/taskinstance/list${qs({ dag_id: id, state: s })}`)}
    </td>
    <td style="white-space:nowrap">
      ${
        canOperate
          ? html`<form class="inline" method="post" action="/dags/${enc}/trigger">
                ${csrfField(request)}<input type="hidden" name="conf" value="{}" /><button
                  title="Trigger DAG"
                  aria-label="Trigger ${id}"
                >
                  ▶ Trigger
                </button>
              </form>
              <a class="button" href="/dags/${enc}/trigger" title="Trigger DAG w/ config">⚙ w/ config</a>
              <form
                class="inline"
                method="post"
                action="/dags/${enc}/delete"
                data-confirm="Delete DAG ${id} and all its runs? This cannot be undone."
              >
                ${csrfField(request)}<button class="danger" title="Delete DAG">Delete</button>
              </form>`
          : html`<span class="muted">read only</span>`
      }
    </td>
  </tr>`;
}

export async function dagListPage(web: WebContext, request: FastifyRequest): Promise<PageResult> {
  const tabParam = queryParam(request, 'status');
  const tab: DagListTab = tabParam === 'active' || tabParam === 'paused' ? tabParam : 'all';
  const search = queryParam(request, 'search')?.trim() || undefined;
  const tags = (
    (request.query as Record<string, unknown>).tags === undefined
      ? []
      : ([] as unknown[]).concat((request.query as Record<string, unknown>).tags)
  )
    .map(String)
    .filter(Boolean);
  const pageNumber = Math.max(1, Number(queryParam(request, 'page') ?? 1) || 1);
  const [list, tagChoices] = await Promise.all([
    listDags(web.db, { tab, search, tags, limit: PAGE_SIZE, offset: (pageNumber - 1) * PAGE_SIZE }),
    allTags(web.db),
  ]);
  const canOperate = can(request.principal!.role, 'operate_dags');
  const link = (o: { status?: string; page?: number }) =>
    `/home${qs({ status: o.status ?? (tab === 'all' ? undefined : tab), search, tags: tags[0], page: o.page })}`;
  const back = request.url;
  const pages = Math.max(1, Math.ceil(list.totalEntries / PAGE_SIZE));
  const body = html`<h1>DAGs</h1>
    <div class="tabs">
      <a href="${link({ status: 'all' })}" class="${tab === 'all' ? 'active' : ''}"
        >All <span class="count" data-count="all">${list.counts.all}</span></a
      >
      <a href="${link({ status: 'active' })}" class="${tab === 'active' ? 'active' : ''}"
        >Active <span class="count" data-count="active">${list.counts.active}</span></a
      >
      <a href="${link({ status: 'paused' })}" class="${tab === 'paused' ? 'active' : ''}"
        >Paused <span class="count" data-count="paused">${list.counts.paused}</span></a
      >
    </div>
    <form class="toolbar" method="get" action="/home">
      ${tab === 'all' ? '' : html`<input type="hidden" name="status" value="${tab}" />`}
      <input
        type="search"
        name="search"
        placeholder="Search DAGs"
        value="${search ?? ''}"
        aria-label="Search DAGs"
      />
      <select name="tags" aria-label="Filter by tag">
        <option value="">All tags</option>
        ${tagChoices.map((t) => html`<option ${tags.includes(t) ? 'selected' : ''}>${t}</option>`)}
      </select>
      <button type="submit">Filter</button>${search || tags.length ? html`<a href="/home">Reset</a>` : ''}
    </form>
    <table class="list dag-list">
      <thead>
        <tr>
          <th></th>
          <th>DAG</th>
          <th>Owner</th>
          <th>Runs</th>
          <th>Schedule</th>
          <th>Last Run</th>
          <th>Next Run</th>
          <th>Recent Tasks</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody data-live="dag-rows">
        ${
          list.entries.length
            ? list.entries.map((e) => row(request, e, canOperate, back))
            : html`<tr>
                <td colspan="9" class="muted">No DAGs found.</td>
              </tr>`
        }
      </tbody>
    </table>
    <div class="pagination">
      ${pageNumber > 1 ? html`<a class="button" href="${link({ page: pageNumber - 1 })}">‹ Previous</a>` : ''}
      <span class="muted">Page ${pageNumber} of ${pages} · ${list.totalEntries} DAGs</span>
      ${pageNumber < pages ? html`<a class="button" href="${link({ page: pageNumber + 1 })}">Next ›</a>` : ''}
    </div>`;
  return { title: 'DAGs', body };
}
