import type { FastifyRequest } from 'fastify';
import type { DagRow } from '../../db/tables.js';
import type { SerializedDag } from '../../dag/serialized.js';
import { can } from '../auth/roles.js';
import { getDag, getDagSource, getDagTags, getSerializedDag } from '../data/dags.js';
import { listDagRuns } from '../data/runs.js';
import type { WebContext } from '../web-context.js';
import { graphSvg } from './graph-svg.js';
import { gridTab, legend } from './grid-tab.js';
import { fmtDuration, fmtTime, html, qs, type SafeHtml } from './html.js';
import { queryParam, type PageResult } from './kit.js';
import { csrfField, stateBadge, toggleTitle } from './layout.js';
import { summaryOfStates } from './task-order.js';
import { triggerForm, type TriggerFormState } from './trigger-form.js';

export type DagTab = 'grid' | 'graph' | 'details' | 'code' | 'runs' | 'trigger';

function header(request: FastifyRequest, dag: DagRow, tags: string[], tab: DagTab): SafeHtml {
  const enc = encodeURIComponent(dag.dag_id);
  const canOperate = can(request.principal!.role, 'operate_dags');
  const tabs: [DagTab, string][] = [
    ['grid', 'Grid'],
    ['graph', 'Graph'],
    ['details', 'Details'],
    ['code', 'Code'],
    ['runs', 'Runs'],
  ];
  return html`<div class="toolbar" style="justify-content:space-between">
      <h1 style="margin:0">
        <form class="inline" method="post" action="/dags/${enc}/pause">
          ${csrfField(request)}<input type="hidden" name="next" value="${request.url}" />
          <input type="hidden" name="is_paused" value="${dag.is_paused ? 'false' : 'true'}" />
          <input
            class="switch"
            type="checkbox"
            aria-label="Pause/unpause DAG"
            title="${toggleTitle(!!dag.is_paused, canOperate, request.principal!.role)}"
            data-autosubmit
            ${dag.is_paused ? '' : 'checked'}
            ${canOperate ? '' : 'disabled'}
          />
        </form>
        DAG: ${dag.dag_id} ${tags.map((t) => html`<span class="tag">${t}</span>`)}
      </h1>
      <div>
        ${
          canOperate && tab !== 'trigger'
            ? html`<form class="inline" method="post" action="/dags/${enc}/trigger">
                  ${csrfField(request)}<input type="hidden" name="conf" value="{}" /><button class="primary">
                    ▶ Trigger
                  </button>
                </form>
                <a class="button" href="/dags/${enc}/trigger">Trigger w/ config</a>`
            : ''
        }
      </div>
    </div>
    <p class="muted">
      ${dag.description ?? ''} Schedule: <code>${dag.schedule_interval ?? 'None'}</code> · Next run:
      ${fmtTime(dag.next_dagrun) || '—'} · Owner: ${dag.owners}
    </p>
    <div class="tabs">
      ${tabs.map(([t, label]) => html`<a class="${t === tab ? 'active' : ''}" href="/dags/${enc}/${t}">${label}</a>`)}
    </div>`;
}

async function graphTab(web: WebContext, request: FastifyRequest, dag: SerializedDag): Promise<SafeHtml> {
  const runs = await listDagRuns(web.db, { dagId: dag.dagId, limit: 25, offset: 0 });
  const runId = queryParam(request, 'run_id') ?? runs.rows[0]?.run_id;
  const states = new Map<string, string | null>();
  if (runId) {
    const tis = await web.db
      .selectFrom('task_instance')
      .select(['task_id', 'state'])
      .where('dag_id', '=', dag.dagId)
      .where('run_id', '=', runId)
      .execute();
    const byTask = new Map<string, (string | null)[]>();
    for (const t of tis) (byTask.get(t.task_id) ?? byTask.set(t.task_id, []).get(t.task_id)!).push(t.state);
    for (const [taskId, list] of byTask) states.set(taskId, summaryOfStates(list));
  }
  const enc = encodeURIComponent(dag.dagId);
  const collapsed = new Set((queryParam(request, 'collapsed') ?? '').split(',').filter(Boolean));
  const allGroups = [...new Set(dag.tasks.flatMap((t) => (t.groupId ? [t.groupId.split('.')[0]!] : [])))];
  const graphLink = (groups: Set<string>) =>
    `/dags/${enc}/graph${qs({ run_id: queryParam(request, 'run_id'), collapsed: [...groups].join(',') })}`;
  return html`<form class="toolbar" method="get" action="/dags/${enc}/graph" id="graph-toolbar">
      <label
        >Run
        <select name="run_id" data-autosubmit-select aria-label="Run whose states colour the graph">
          ${runs.rows.map((r) => html`<option value="${r.run_id}" ${r.run_id === runId ? 'selected' : ''}>${fmtTime(r.logical_date)} · ${r.run_id} · ${r.state}</option>`)}
        </select></label
      >
      ${collapsed.size ? html`<input type="hidden" name="collapsed" value="${[...collapsed].join(',')}" />` : ''}
      <noscript><button type="submit">Show</button></noscript>
      <span class="graph-zoom">
        <button type="button" data-graph="fit" title="Fit the whole DAG">Fit</button>
        <button type="button" data-graph="in" title="Zoom in">+</button>
        <button type="button" data-graph="out" title="Zoom out">−</button>
      </span>
      ${
        allGroups.length
          ? html`<a href="${graphLink(new Set())}" id="expand-all">Expand all groups</a>
              <a href="${graphLink(new Set(allGroups))}" id="collapse-all">Collapse all groups</a>`
          : ''
      }
      <span class="muted"
        >${runId ? '' : 'No runs yet.'} Drag to pan, wheel to zoom, click a task to open it.</span
      >
    </form>
    <div class="graph-viewport" data-live="graph">
      ${graphSvg(dag, {
        states,
        collapsed,
        taskLink: (taskId) => `/dags/${enc}/grid${qs({ run_id: runId, task_id: taskId })}`,
        collapseLink: graphLink,
      })}
    </div>
    ${legend()}`;
}

function detailsTab(dag: SerializedDag, row: DagRow): SafeHtml {
  const entries: [string, unknown][] = [
    ['DAG id', dag.dagId],
    ['Description', dag.description],
    ['Owner', dag.owner],
    ['File', dag.fileloc],
    ['Schedule', row.schedule_interval ?? 'None'],
    ['Timetable', row.timetable_description],
    ['Time zone', dag.timezone],
    ['Start date', dag.startDate],
    ['End date', dag.endDate],
    ['Catchup', dag.catchup],
    ['Max active runs', dag.maxActiveRuns],
    ['Max active tasks', dag.maxActiveTasks],
    ['Run timeout', dag.dagrunTimeoutMs == null ? null : fmtDuration(dag.dagrunTimeoutMs / 1000)],
    ['Paused', !!row.is_paused],
    ['Last parsed', fmtTime(row.last_parsed_time)],
    ['Tasks', dag.tasks.length],
    ['Tags', dag.tags.join(', ')],
  ];
  return html`<dl class="details">
      ${entries.map(
        ([k, v]) =>
          html`<dt>${k}</dt>
            <dd>${v === null || v === undefined ? '—' : String(v)}</dd>`,
      )}
    </dl>
    ${
      dag.docMd
        ? html`<h2>Documentation</h2>
            <pre class="code">${dag.docMd}</pre>`
        : ''
    }
    <h2>Params</h2>
    ${Object.keys(dag.params).length ? html`<pre class="code">${JSON.stringify(dag.params, null, 2)}</pre>` : html`<p class="muted">None.</p>`}`;
}

async function runsTab(web: WebContext, dag: SerializedDag): Promise<SafeHtml> {
  const { rows } = await listDagRuns(web.db, { dagId: dag.dagId, limit: 100, offset: 0 });
  const enc = encodeURIComponent(dag.dagId);
  return html`<table class="list">
    <thead>
      <tr>
        <th>State</th>
        <th>Run id</th>
        <th>Type</th>
        <th>Logical date</th>
        <th>Started</th>
        <th>Ended</th>
        <th>Conf</th>
      </tr>
    </thead>
    <tbody data-live="runs">
      ${rows.map(
        (r) =>
          html`<tr>
            <td>${stateBadge(r.state)}</td>
            <td><a href="/dags/${enc}/grid${qs({ run_id: r.run_id })}">${r.run_id}</a></td>
            <td>${r.run_type}</td>
            <td>${fmtTime(r.logical_date)}</td>
            <td>${fmtTime(r.start_date)}</td>
            <td>${fmtTime(r.end_date)}</td>
            <td><code>${r.conf ?? ''}</code></td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export async function dagPage(
  web: WebContext,
  request: FastifyRequest,
  tab: DagTab,
  triggerState: TriggerFormState | null = null,
): Promise<PageResult> {
  const dagId = (request.params as { dag_id: string }).dag_id;
  const row = await getDag(web.db, dagId);
  const [tags, dag] = await Promise.all([getDagTags(web.db, dagId), getSerializedDag(web.db, dagId)]);
  let content: SafeHtml;
  switch (tab) {
    case 'grid':
      content = await gridTab(web, request, dag);
      break;
    case 'graph':
      content = await graphTab(web, request, dag);
      break;
    case 'details':
      content = detailsTab(dag, row);
      break;
    case 'code': {
      const { fileloc, source } = await getDagSource(web.db, dagId);
      content = html`<p class="muted" id="dag-fileloc">${fileloc}</p>
        <pre
          class="code"
          id="dag-source"
          data-language="${fileloc.endsWith('.ts') ? 'typescript' : 'javascript'}"
        >
${source}</pre>`;
      break;
    }
    case 'runs':
      content = await runsTab(web, dag);
      break;
    case 'trigger':
      content = triggerForm(request, dag, triggerState);
      break;
  }
  return { title: `${dagId} - ${tab}`, body: html`${header(request, row, tags, tab)}${content}` };
}
