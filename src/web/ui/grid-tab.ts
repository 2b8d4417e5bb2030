import type { FastifyRequest } from 'fastify';
import type { TaskInstanceRow } from '../../db/tables.js';
import type { SerializedDag } from '../../dag/serialized.js';
import { can } from '../auth/roles.js';
import {
  getDagRun,
  getTaskInstance,
  gridData,
  listMappedInstances,
  listTaskInstanceXcoms,
} from '../data/runs.js';
import type { WebContext } from '../web-context.js';
import { STATE_COLORS } from './assets.js';
import { fmtDuration, fmtTime, html, qs, type SafeHtml } from './html.js';
import { queryParam } from './kit.js';
import { csrfField, stateBadge } from './layout.js';
import { summaryOfStates, taskRows, topologicalRank } from './task-order.js';

/**
 * The Grid tab: runs as columns (dated, bar heights by duration), tasks in dependency order with
 * collapsible groups, and the panel for the selected run, task instance or mapped task.
 */
export function legend(): SafeHtml {
  return html`<div class="legend">
    ${Object.entries(STATE_COLORS).map(([s, c]) => html`<span><i style="background:${c}"></i>${s}</span>`)}
  </div>`;
}

type GridTi = Awaited<ReturnType<typeof gridData>>['tis'][number];

function summaryState(list: GridTi[]): string | null {
  return summaryOfStates(list.map((t) => t.state));
}

/** Seconds a run took (or has taken so far). */
function runSeconds(run: { start_date: number | null; end_date: number | null }, now: number): number | null {
  if (run.start_date == null) return null;
  return Math.max(0, (Number(run.end_date ?? now) - Number(run.start_date)) / 1000);
}

function shortDate(ms: number): string {
  return new Date(Number(ms)).toISOString().slice(5, 16).replace('T', ' ');
}

export async function gridTab(
  web: WebContext,
  request: FastifyRequest,
  dag: SerializedDag,
): Promise<SafeHtml> {
  const enc = encodeURIComponent(dag.dagId);
  const { runs, tis } = await gridData(
    web.db,
    dag.dagId,
    Number(queryParam(request, 'num_runs') ?? 25) || 25,
  );
  const selRun = queryParam(request, 'run_id');
  const selTask = queryParam(request, 'task_id');
  const byKey = new Map<string, GridTi[]>();
  for (const ti of tis) {
    const key = `${ti.run_id}\0${ti.task_id}`;
    (byKey.get(key) ?? byKey.set(key, []).get(key)!).push(ti);
  }
  const stateOf = (runId: string, taskIds: string[]) =>
    summaryState(taskIds.flatMap((id) => byKey.get(`${runId}\0${id}`) ?? []));
  const now = Date.now();
  const longest = Math.max(1, ...runs.map((r) => runSeconds(r, now) ?? 0));
  const rows = taskRows(dag);
  const cell = (runId: string, taskId: string, state: string | null, selected: boolean, group: boolean) =>
    html`<td>
      <a
        href="/dags/${enc}/grid${qs({ run_id: runId, task_id: group ? undefined : taskId })}"
        title="${taskId} · ${runId} · ${state ?? 'no status'}"
        ><span
          class="cell ${group ? 'group-cell' : ''} state-${state ?? 'none'} ${selected ? 'sel' : ''}"
          data-${group ? 'group-id' : 'task-id'}="${taskId}"
          data-run-id="${runId}"
          data-state="${state ?? 'none'}"
        ></span
      ></a>
    </td>`;
  const grid = html`<div class="grid-wrap">
      <table class="grid" aria-label="Grid" data-dag-id="${dag.dagId}">
        <thead>
          <tr class="run-dates">
            <th></th>
            ${runs.map(
              (r, i) =>
                html`<td>
                  ${i % 3 === 0 || i === runs.length - 1 ? html`<span class="runlabel">${shortDate(r.logical_date)}</span>` : ''}
                </td>`,
            )}
          </tr>
          <tr class="run-bars">
            <th class="muted" style="text-align:left;font-weight:normal;font-size:12px">
              Duration (max ${fmtDuration(longest)})
            </th>
            ${runs.map((r) => {
              const seconds = runSeconds(r, now);
              const height = seconds == null ? 4 : Math.max(4, Math.round((seconds / longest) * 60));
              return html`<td>
                <a
                  href="/dags/${enc}/grid${qs({ run_id: r.run_id })}"
                  title="${r.run_id} · ${r.state} · ${fmtTime(r.logical_date)}${seconds == null ? '' : ` · ${fmtDuration(seconds)}`}"
                  ><span
                    class="runbar state-${r.state} ${selRun === r.run_id && !selTask ? 'sel' : ''}"
                    style="height:${height}px"
                    data-run-id="${r.run_id}"
                    data-state="${r.state}"
                    data-seconds="${seconds ?? ''}"
                  ></span
                ></a>
              </td>`;
            })}
          </tr>
        </thead>
        <tbody>
          ${rows.map((row) =>
            row.kind === 'group'
              ? html`<tr
                  class="group-row"
                  data-group="${row.groupId}"
                  data-ancestors="${row.ancestors.join(' ')}"
                >
                  <th class="task group" style="padding-left:${row.depth * 14}px">
                    <button
                      type="button"
                      class="link group-toggle"
                      aria-expanded="true"
                      data-group="${row.groupId}"
                    >
                      <span class="caret">▾</span> ${row.groupId.split('.').pop()}
                    </button>
                  </th>
                  ${runs.map((r) => cell(r.run_id, row.groupId, stateOf(r.run_id, row.taskIds), false, true))}
                </tr>`
              : html`<tr data-task-id="${row.task.taskId}" data-ancestors="${row.ancestors.join(' ')}">
                  <th
                    class="task"
                    style="padding-left:${row.depth * 14 + (row.depth ? 14 : 0)}px"
                    title="${row.task.operator}"
                  >
                    ${row.task.taskId.split('.').pop()}${row.task.mapped ? html` <span class="muted">[ ]</span>` : ''}
                  </th>
                  ${runs.map((r) =>
                    cell(
                      r.run_id,
                      row.task.taskId,
                      stateOf(r.run_id, [row.task.taskId]),
                      selRun === r.run_id && selTask === row.task.taskId,
                      false,
                    ),
                  )}
                </tr>`,
          )}
        </tbody>
      </table>
      ${runs.length ? '' : html`<p class="muted">No runs yet. Trigger the DAG to create one.</p>`}
    </div>
    ${legend()}`;
  let panel: SafeHtml | string = '';
  if (selRun && selTask) panel = await taskInstancePanel(web, request, dag, selRun, selTask);
  else if (selRun)
    panel = await runPanel(
      web,
      request,
      dag,
      selRun,
      tis.filter((t) => t.run_id === selRun),
    );
  return html`<div data-live="grid">${grid}</div>
    ${panel}`;
}

/** Where a run's time went: its total, the wait before it started, and each task's share. */
function durationSummary(
  dag: SerializedDag,
  run: { queued_at: number | null; start_date: number | null; end_date: number | null },
  tis: GridTi[],
): SafeHtml {
  const order = topologicalRank(dag);
  const withTime = tis
    .filter((t) => t.duration != null)
    .sort((a, b) => (order.get(a.task_id) ?? 0) - (order.get(b.task_id) ?? 0) || a.map_index - b.map_index);
  const total = runSeconds(run, Date.now());
  const queued =
    run.queued_at != null && run.start_date != null
      ? Math.max(0, (Number(run.start_date) - Number(run.queued_at)) / 1000)
      : null;
  const longest = Math.max(1e-9, ...withTime.map((t) => Number(t.duration)));
  const taskTotal = withTime.reduce((sum, t) => sum + Number(t.duration), 0);
  return html`<div id="duration-summary">
    <h3>Durations</h3>
    <p>
      Run:
      <b>${total == null ? 'not started' : fmtDuration(total)}</b
      >${queued == null ? '' : html` · queued for ${fmtDuration(queued)} before starting`} ·
      ${withTime.length} task instance(s) took ${fmtDuration(taskTotal)} in total
    </p>
    ${
      withTime.length
        ? html`<table class="list durations">
            <tbody>
              ${withTime.map(
                (t) =>
                  html`<tr>
                    <td style="width:40%">${t.task_id}${t.map_index >= 0 ? ` [${t.map_index}]` : ''}</td>
                    <td>
                      <span
                        class="durbar state-${t.state ?? 'none'}"
                        style="width:${Math.max(1, Math.round((Number(t.duration) / longest) * 100))}%"
                      ></span>
                    </td>
                    <td style="width:90px;text-align:right">${fmtDuration(t.duration)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
        : ''
    }
  </div>`;
}

async function runPanel(
  web: WebContext,
  request: FastifyRequest,
  dag: SerializedDag,
  runId: string,
  tis: GridTi[],
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
      ${durationSummary(dag, run, tis)}
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
  // Secrets in XComs and rendered fields are masked for every role, as in the task log.
  const masker = await web.secrets.masker();
  const xcoms = (ti ? await listTaskInstanceXcoms(web.db, dag.dagId, runId, taskId, ti.map_index) : []).map(
    (x) => ({
      ...x,
      value: masker.redactJsonText(x.value),
    }),
  );
  const tries = ti ? Math.max(ti.try_number, 1) : 0;
  const shownTry = Math.min(Number(queryParam(request, 'try_number') ?? tries) || tries, tries);
  const canOperate = can(request.principal!.role, 'operate_dags');
  const rendered = masker.redactValue(
    ti?.rendered_fields
      ? (JSON.parse(ti.rendered_fields) as Record<string, unknown>)
      : (task?.templateValues ?? {}),
  );
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
            ${
              shownIndex === undefined
                ? ''
                : html`<dt>Map index</dt>
                    <dd>${shownIndex}</dd>`
            }
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
    <h2>Task ${taskId} <span class="muted">· run ${runId} · ${instances.length} mapped instances</span></h2>
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
                  <a
                    href="/dags/${enc}/grid${qs({ run_id: runId, task_id: taskId, map_index: ti.map_index })}"
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
