import type { FastifyRequest } from 'fastify';
import type { DagRow, TaskInstanceRow } from '../../db/tables.js';
import type { SerializedDag, SerializedTask } from '../../dag/serialized.js';
import { can } from '../auth/roles.js';
import { getDag, getDagSource, getDagTags, getSerializedDag } from '../data/dags.js';
import {
  getDagRun,
  getTaskInstance,
  gridData,
  listDagRuns,
  listMappedInstances,
  listTaskInstanceXcoms,
} from '../data/runs.js';
import type { WebContext } from '../web-context.js';
import { STATE_COLORS } from './assets.js';
import { graphSvg } from './graph-svg.js';
import { fmtDuration, fmtTime, html, qs, type SafeHtml } from './html.js';
import { queryParam, type PageResult } from './kit.js';
import { csrfField, stateBadge } from './layout.js';
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

function legend(): SafeHtml {
  return html`<div class="legend">
    ${Object.entries(STATE_COLORS).map(([s, c]) => html`<span><i style="background:${c}"></i>${s}</span>`)}
  </div>`;
}

/** Task rows in display order, with a header row before the first task of each task group. */
function taskRows(
  dag: SerializedDag,
): (
  { kind: 'group'; groupId: string; depth: number } | { kind: 'task'; task: SerializedTask; depth: number }
)[] {
  const rows: (
    { kind: 'group'; groupId: string; depth: number } | { kind: 'task'; task: SerializedTask; depth: number }
  )[] = [];
  const opened = new Set<string>();
  for (const task of dag.tasks) {
    const parts = task.groupId ? task.groupId.split('.') : [];
    for (let i = 0; i < parts.length; i++) {
      const gid = parts.slice(0, i + 1).join('.');
      if (!opened.has(gid)) {
        opened.add(gid);
        rows.push({ kind: 'group', groupId: gid, depth: i });
      }
    }
    rows.push({ kind: 'task', task, depth: parts.length });
  }
  return rows;
}

async function gridTab(web: WebContext, request: FastifyRequest, dag: SerializedDag): Promise<SafeHtml> {
  const enc = encodeURIComponent(dag.dagId);
  const { runs, tis } = await gridData(
    web.db,
    dag.dagId,
    Number(queryParam(request, 'num_runs') ?? 25) || 25,
  );
  const selRun = queryParam(request, 'run_id');
  const selTask = queryParam(request, 'task_id');
  const byKey = new Map<string, typeof tis>();
  for (const ti of tis) {
    const key = `${ti.run_id}\0${ti.task_id}`;
    (byKey.get(key) ?? byKey.set(key, []).get(key)!).push(ti);
  }
  const cellState = (runId: string, taskId: string): string | null => {
    const list = byKey.get(`${runId}\0${taskId}`);
    if (!list?.length) return null;
    if (list.length === 1) return list[0]!.state;
    // Mapped task: the "worst" state of its instances.
    for (const s of [
      'failed',
      'upstream_failed',
      'running',
      'up_for_retry',
      'queued',
      'scheduled',
      'success',
      'skipped',
    ])
      if (list.some((t) => t.state === s)) return s;
    return list[0]!.state;
  };
  const rows = taskRows(dag);
  const grid = html`<div class="grid-wrap">
      <table class="grid" aria-label="Grid">
        <thead>
          <tr>
            <th></th>
            ${runs.map(
              (r) =>
                html`<td>
                  <a href="/dags/${enc}/grid${qs({ run_id: r.run_id })}" title="${r.run_id}: ${r.state}"
                    ><span
                      class="runbar state-${r.state} ${selRun === r.run_id && !selTask ? 'sel' : ''}"
                      data-run-id="${r.run_id}"
                      data-state="${r.state}"
                    ></span
                  ></a>
                </td>`,
            )}
          </tr>
        </thead>
        <tbody>
          ${rows.map((row) =>
            row.kind === 'group'
              ? html`<tr>
                  <th class="task group" style="padding-left:${row.depth * 14}px">
                    ▾ ${row.groupId.split('.').pop()}
                  </th>
                  ${runs.map(() => html`<td></td>`)}
                </tr>`
              : html`<tr>
                  <th class="task" style="padding-left:${row.depth * 14}px" title="${row.task.operator}">
                    ${row.task.taskId.split('.').pop()}
                  </th>
                  ${runs.map((r) => {
                    const state = cellState(r.run_id, row.task.taskId);
                    return html`<td>
                      <a
                        href="/dags/${enc}/grid${qs({ run_id: r.run_id, task_id: row.task.taskId })}"
                        title="${row.task.taskId} · ${r.run_id} · ${state ?? 'no status'}"
                        ><span
                          class="cell state-${state ?? 'none'} ${selRun === r.run_id && selTask === row.task.taskId ? 'sel' : ''}"
                          data-task-id="${row.task.taskId}"
                          data-run-id="${r.run_id}"
                          data-state="${state ?? 'none'}"
                        ></span
                      ></a>
                    </td>`;
                  })}
                </tr>`,
          )}
        </tbody>
      </table>
      ${runs.length ? '' : html`<p class="muted">No runs yet. Trigger the DAG to create one.</p>`}
    </div>
    ${legend()}`;
  let panel: SafeHtml | string = '';
  if (selRun && selTask) panel = await taskInstancePanel(web, request, dag, selRun, selTask);
  else if (selRun) panel = await runPanel(web, request, dag, selRun);
  return html`<div data-live="grid">${grid}</div>
    ${panel}`;
}

async function runPanel(
  web: WebContext,
  request: FastifyRequest,
  dag: SerializedDag,
  runId: string,
): Promise<SafeHtml> {
  const run = await getDagRun(web.db, dag.dagId, runId);
  const enc = encodeURIComponent(dag.dagId);
  const canOperate = can(request.principal!.role, 'operate_dags');
  return html`<div class="panel">
    <h2>Run ${run.run_id}</h2>
    <div data-live="run-panel">
      <dl class="details">
        <dt>State</dt>
        <dd>${stateBadge(run.state)}</dd>
        <dt>Run type</dt>
        <dd>${run.run_type}</dd>
        <dt>Logical date</dt>
        <dd>${fmtTime(run.logical_date)}</dd>
        <dt>Started</dt>
        <dd>${fmtTime(run.start_date)}</dd>
        <dt>Ended</dt>
        <dd>${fmtTime(run.end_date)}</dd>
        <dt>Conf</dt>
        <dd><code>${run.conf ?? '{}'}</code></dd>
      </dl>
    </div>
    ${
      canOperate
        ? html`<div class="toolbar" style="margin-top:10px">
            ${(['success', 'failed'] as const).map((s) => html`<form class="inline" method="post" action="/dags/${enc}/runs/state">${csrfField(request)}<input type="hidden" name="run_id" value="${run.run_id}" /><input type="hidden" name="state" value="${s}" /><button>Mark run ${s}</button></form>`)}
            <form
              class="inline"
              method="post"
              action="/dags/${enc}/clear"
              data-confirm="Clear every task of this run?"
            >
              ${csrfField(request)}<input type="hidden" name="run_id" value="${run.run_id}" /><button>
                Clear run
              </button>
            </form>
          </div>`
        : ''
    }
  </div>`;
}

async function taskInstancePanel(
  web: WebContext,
  request: FastifyRequest,
  dag: SerializedDag,
  runId: string,
  taskId: string,
): Promise<SafeHtml> {
  const enc = encodeURIComponent(dag.dagId);
  const task = dag.tasks.find((t) => t.taskId === taskId);
  const mapIndexParam = queryParam(request, 'map_index');
  const requestedIndex = mapIndexParam === undefined ? null : Number(mapIndexParam);
  // A mapped task opened without an index shows its expanded instances (Airflow's "Mapped Tasks").
  const mapped = task?.mapped ? await listMappedInstances(web.db, dag.dagId, runId, taskId) : [];
  if (mapped.length && (requestedIndex === null || !Number.isInteger(requestedIndex) || requestedIndex < 0))
    return mappedInstancesPanel(dag, runId, taskId, mapped);
  const mapIndex = requestedIndex !== null && Number.isInteger(requestedIndex) ? requestedIndex : -1;
  let ti: TaskInstanceRow | null = null;
  try {
    ti = await getTaskInstance(web.db, dag.dagId, runId, taskId, mapIndex);
  } catch {
    ti = null;
  }
  const xcoms = ti ? await listTaskInstanceXcoms(web.db, dag.dagId, runId, taskId, ti.map_index) : [];
  const tries = ti ? Math.max(ti.try_number, 1) : 0;
  const shownTry = Math.min(Number(queryParam(request, 'try_number') ?? tries) || tries, tries);
  const canOperate = can(request.principal!.role, 'operate_dags');
  const rendered = ti?.rendered_fields
    ? (JSON.parse(ti.rendered_fields) as Record<string, unknown>)
    : (task?.templateValues ?? {});
  const shownIndex = ti && ti.map_index >= 0 ? ti.map_index : undefined;
  const base = `/dags/${enc}/grid${qs({ run_id: runId, task_id: taskId, map_index: shownIndex })}`;
  const logUrl = `/ui/log${qs({ dag_id: dag.dagId, run_id: runId, task_id: taskId, map_index: ti?.map_index ?? -1, try_number: shownTry })}`;
  return html`<div class="panel" id="ti-panel">
    <h2>
      Task ${taskId}${shownIndex === undefined ? '' : ` [${shownIndex}]`}
      <span class="muted">· run ${runId}</span>
    </h2>
    ${
      shownIndex === undefined
        ? ''
        : html`<p>
            <a href="/dags/${enc}/grid${qs({ run_id: runId, task_id: taskId })}" id="mapped-back"
              >← All mapped instances</a
            >
          </p>`
    }
    <div class="split">
      <div>
        <div data-live="ti-details">
          <dl class="details">
            <dt>Status</dt>
            <dd>${stateBadge(ti?.state ?? null)}</dd>
            ${shownIndex === undefined ? '' : html`<dt>Map index</dt><dd>${shownIndex}</dd>`}
            <dt>Operator</dt>
            <dd>${task?.operator ?? ti?.operator ?? ''}</dd>
            <dt>Try number</dt>
            <dd>${ti?.try_number ?? 0} of ${ti ? ti.max_tries + 1 : (task?.retries ?? 0) + 1}</dd>
            <dt>Started</dt>
            <dd>${fmtTime(ti?.start_date)}</dd>
            <dt>Ended</dt>
            <dd>${fmtTime(ti?.end_date)}</dd>
            <dt>Duration</dt>
            <dd>${fmtDuration(ti?.duration)}</dd>
            <dt>Host</dt>
            <dd>${ti?.hostname ?? ''}</dd>
            <dt>Pool</dt>
            <dd>${ti?.pool ?? task?.pool ?? ''}</dd>
            <dt>Trigger rule</dt>
            <dd>${task?.triggerRule ?? ''}</dd>
          </dl>
        </div>
        ${
          canOperate && ti
            ? html`<h2>Actions</h2>
                <form method="post" action="/dags/${enc}/clear" class="toolbar">
                  ${csrfField(request)} <input type="hidden" name="run_id" value="${runId}" /><input
                    type="hidden"
                    name="task_id"
                    value="${taskId}"
                  />
                  <label><input type="checkbox" name="upstream" /> Upstream</label
                  ><label><input type="checkbox" name="downstream" checked /> Downstream</label>
                  <label><input type="checkbox" name="past" /> Past</label
                  ><label><input type="checkbox" name="future" /> Future</label>
                  <label><input type="checkbox" name="only_failed" /> Only failed</label>
                  <button type="submit">Clear</button>
                </form>
                <div class="toolbar">
                  ${(['success', 'failed'] as const).map((s) => html`<form class="inline" method="post" action="/dags/${enc}/mark">${csrfField(request)}<input type="hidden" name="run_id" value="${runId}" /><input type="hidden" name="task_id" value="${taskId}" /><input type="hidden" name="state" value="${s}" /><button>Mark ${s}</button></form>`)}
                </div>`
            : ''
        }
        <h2>XCom</h2>
        ${
          xcoms.length
            ? html`<table class="list">
                <tr>
                  <th>Key</th>
                  <th>Value</th>
                </tr>
                ${xcoms.map(
                  (x) =>
                    html`<tr>
                      <td>${x.key}</td>
                      <td><code>${x.value}</code></td>
                    </tr>`,
                )}
              </table>`
            : html`<p class="muted">No XCom entries.</p>`
        }
        <h2>Rendered template fields</h2>
        ${
          Object.keys(rendered).length
            ? html`<dl class="details">
                ${Object.entries(rendered).map(
                  ([k, v]) =>
                    html`<dt>${k}</dt>
                      <dd>
                        <pre class="code" style="margin:0">
${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}</pre>
                      </dd>`,
                )}
              </dl>`
            : html`<p class="muted">No templated fields.</p>`
        }
      </div>
      <div>
        <h2>Log</h2>
        ${
          tries
            ? html`<div class="tabs">
                  ${Array.from({ length: tries }, (_, i) => i + 1).map((n) => html`<a class="${n === shownTry ? 'active' : ''}" href="${base}${qs({ try_number: n }).replace('?', '&')}">Attempt ${n}</a>`)}
                </div>
                <pre class="log" data-log-url="${logUrl}" aria-label="Task log"></pre>`
            : html`<p class="muted">The task has not run yet.</p>`
        }
      </div>
    </div>
  </div>`;
}

/** A mapped task in one run: each expanded instance with its state, duration and a link to it. */
function mappedInstancesPanel(
  dag: SerializedDag,
  runId: string,
  taskId: string,
  instances: TaskInstanceRow[],
): SafeHtml {
  const enc = encodeURIComponent(dag.dagId);
  const counts = new Map<string, number>();
  for (const ti of instances) counts.set(ti.state ?? 'none', (counts.get(ti.state ?? 'none') ?? 0) + 1);
  return html`<div class="panel" id="ti-panel">
    <h2>
      Task ${taskId} <span class="muted">· run ${runId} · ${instances.length} mapped instances</span>
    </h2>
    <div data-live="mapped-instances">
      <p>${[...counts].map(([s, n]) => html`${stateBadge(s)} ${n} `)}</p>
      <table class="list" id="mapped-instances">
        <thead>
          <tr>
            <th>Map index</th>
            <th>State</th>
            <th>Try</th>
            <th>Started</th>
            <th>Ended</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          ${instances.map(
            (ti) =>
              html`<tr data-map-index="${ti.map_index}">
                <td>
                  <a href="/dags/${enc}/grid${qs({ run_id: runId, task_id: taskId, map_index: ti.map_index })}"
                    >[${ti.map_index}]</a
                  >
                </td>
                <td>${stateBadge(ti.state)}</td>
                <td>${ti.try_number}</td>
                <td>${fmtTime(ti.start_date)}</td>
                <td>${fmtTime(ti.end_date)}</td>
                <td>${fmtDuration(ti.duration)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </div>`;
}

async function graphTab(web: WebContext, request: FastifyRequest, dag: SerializedDag): Promise<SafeHtml> {
  const runs = await listDagRuns(web.db, { dagId: dag.dagId, limit: 1, offset: 0 });
  const runId = queryParam(request, 'run_id') ?? runs.rows[0]?.run_id;
  const states = new Map<string, string | null>();
  if (runId) {
    const tis = await web.db
      .selectFrom('task_instance')
      .select(['task_id', 'state'])
      .where('dag_id', '=', dag.dagId)
      .where('run_id', '=', runId)
      .execute();
    for (const t of tis) states.set(t.task_id, t.state);
  }
  const enc = encodeURIComponent(dag.dagId);
  return html`<p class="muted">${runId ? html`States of run <b>${runId}</b>.` : 'No runs yet.'}</p>
    <div class="grid-wrap" data-live="graph">
      ${graphSvg(dag, states, (taskId) => `/dags/${enc}/grid${qs({ run_id: runId, task_id: taskId })}`)}
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
      content = html`<p class="muted">${fileloc}</p>
        <pre class="code">${source}</pre>`;
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
