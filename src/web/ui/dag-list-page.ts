import type { FastifyRequest } from 'fastify';
import { can } from '../auth/roles.js';
import {
  allTags,
  DAG_SORT_KEYS,
  listDags,
  type DagListEntry,
  type DagListTab,
  type DagSortKey,
} from '../data/dags.js';
import type { WebContext } from '../web-context.js';
import { fmtTime, html, qs, type SafeHtml } from './html.js';
import { queryParam, type PageResult } from './kit.js';
import { csrfField, toggleTitle } from './layout.js';

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
      <form
        method="post"
        action="/dags/${enc}/pause"
        title="${toggleTitle(!!d.is_paused, canOperate, request.principal!.role)}"
      >
        ${csrfField(request)}<input type="hidden" name="next" value="${back}" />
        <input type="hidden" name="is_paused" value="${d.is_paused ? 'false' : 'true'}" />
        <input
          class="switch"
          type="checkbox"
          aria-label="Pause/unpause ${id}"
          title="${toggleTitle(!!d.is_paused, canOperate, request.principal!.role)}"
          data-autosubmit
          ${d.is_paused ? '' : 'checked'}
          ${canOperate ? '' : 'disabled'}
        />
      </form>
    </td>
    <td>
      <a href="/dags/${enc}/grid" class="dag-link"><b>${id}</b></a
      ><br />${e.tags.map((t) => html`<a class="tag" href="/home${qs({ tags: t })}">${t}</a>`)}
    </td>
    <td>${d.owners}</td>
    <td>${stateCounts(e.runCounts, RUN_STATES, (s) => `/dagrun/list${qs({ dag_id: id, state: s })}`)}</td>
    <td>${scheduleCell(d.schedule_interval, d.timetable_description)}</td>
    <td>
      ${e.lastRun ? html`<a href="/dags/${enc}/grid${qs({ run_id: e.lastRun.runId })}">${fmtTime(e.lastRun.logicalDate)}</a>` : ''}
    </td>
    <td class="next-run">
      ${
        e.nextRun
          ? e.nextRun.ifUnpaused
            ? html`<span
                class="muted paused-next"
                title="Paused: the scheduler starts this run only once the DAG is unpaused"
                >${fmtTime(e.nextRun.logicalDate)}</span
              >`
            : fmtTime(e.nextRun.logicalDate)
          : ''
      }
    </td>
    <td>
      ${stateCounts(e.recentTaskCounts, TASK_STATES, (s) => `/taskinstance/list${qs({ dag_id: id, state: s })}`)}
    </td>
    <td class="links" style="white-space:nowrap">
      ${(['grid', 'graph', 'code', 'details'] as const).map(
        (tab) =>
          html`<a href="/dags/${enc}/${tab}" aria-label="${tab} of ${id}"
            >${tab[0]!.toUpperCase() + tab.slice(1)}</a
          >`,
      )}
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

/** The schedule, with the timetable's description only where it says something the schedule does not. */
function scheduleCell(schedule: string | null, description: string | null): SafeHtml {
  const text = schedule ?? 'None';
  const adds = description && !description.toLowerCase().includes(text.toLowerCase()) && description !== text;
  return html`<code title="${description ?? ''}">${text}</code
    >${adds ? html`<br /><span class="muted">${description}</span>` : ''}`;
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
  const sortParam = queryParam(request, 'sort');
  const sort = (DAG_SORT_KEYS as readonly string[]).includes(sortParam ?? '')
    ? (sortParam as DagSortKey)
    : undefined;
  const order = queryParam(request, 'order') === 'desc' ? 'desc' : 'asc';
  const [list, tagChoices] = await Promise.all([
    listDags(web.db, {
      tab,
      search,
      tags,
      limit: PAGE_SIZE,
      offset: (pageNumber - 1) * PAGE_SIZE,
      sort,
      order,
    }),
    allTags(web.db),
  ]);
  const canOperate = can(request.principal!.role, 'operate_dags');
  const link = (o: { status?: string; page?: number; sort?: DagSortKey; order?: string }) =>
    `/home${qs({
      status: o.status ?? (tab === 'all' ? undefined : tab),
      search,
      tags: tags[0],
      sort: o.sort ?? sort,
      order: o.order ?? (sort ? order : undefined),
      page: o.page,
    })}`;
  // A column header sorts by it; clicking the sorted column again reverses the order.
  const sortHeader = (label: string, key: DagSortKey) => {
    const active = (sort ?? 'dag_id') === key;
    const next = active && order === 'asc' ? 'desc' : 'asc';
    return html`<th aria-sort="${active ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}">
      <a class="sort" href="${link({ sort: key, order: next })}" data-sort="${key}"
        >${label}${active ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</a
      >
    </th>`;
  };
  const back = request.url;
  const pages = Math.max(1, Math.ceil(list.totalEntries / PAGE_SIZE));
  const body = html`<h1>DAGs</h1>
    ${
      canOperate
        ? ''
        : html`<div class="banner info" id="read-only-note">
            You have read-only access (${request.principal!.role}): pausing, triggering and deleting DAGs need
            the Op or Admin role. Ask an administrator if you need them.
          </div>`
    }
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
          ${sortHeader('DAG', 'dag_id')} ${sortHeader('Owner', 'owners')}
          <th>Runs</th>
          <th>Schedule</th>
          ${sortHeader('Last Run', 'last_run')} ${sortHeader('Next Run', 'next_run')}
          <th>Recent Tasks</th>
          <th>Links</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody data-live="dag-rows">
        ${
          list.entries.length
            ? list.entries.map((e) => row(request, e, canOperate, back))
            : html`<tr>
                <td colspan="10" class="muted">No DAGs found.</td>
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
