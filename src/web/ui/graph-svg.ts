import dagre from '@dagrejs/dagre';
import type { SerializedDag } from '../../dag/serialized.js';
import { STATE_COLORS } from './assets.js';
import { escapeHtml, raw, type SafeHtml } from './html.js';
import { summaryOfStates } from './task-order.js';

/**
 * The Graph tab's drawing: a layered layout by dagre (compound, so task groups are boxes around
 * their tasks), drawn as SVG on the server. A collapsed group is one node standing for its tasks.
 * Nodes are sized to their labels, coloured by the state of the chosen run, and link to their task
 * instance; group headers link to the same page with that group collapsed or expanded.
 */
export interface GraphOptions {
  /** State of each task in the chosen run (a mapped task: its summary state). */
  states: Map<string, string | null>;
  /** Group ids drawn as a single node. */
  collapsed: Set<string>;
  taskLink(taskId: string): string;
  /** The page with these groups collapsed. */
  collapseLink(collapsed: Set<string>): string;
}

const NODE_HEIGHT = 38;
const CHAR_WIDTH = 7.4; // 12px system-ui, generous so labels are never cut off
const SMALL_CHAR_WIDTH = 6.2;

function nodeWidth(label: string, sub: string): number {
  return Math.ceil(Math.max(label.length * CHAR_WIDTH, sub.length * SMALL_CHAR_WIDTH) + 30);
}

/** The outermost collapsed group a task is hidden in, if any. */
function hiddenIn(groupId: string | null, collapsed: Set<string>): string | null {
  if (!groupId) return null;
  const parts = groupId.split('.');
  for (let i = 1; i <= parts.length; i++) {
    const gid = parts.slice(0, i).join('.');
    if (collapsed.has(gid)) return gid;
  }
  return null;
}

const lastPart = (id: string) => id.split('.').pop()!;

export function graphSvg(dag: SerializedDag, o: GraphOptions): SafeHtml {
  const g = new dagre.graphlib.Graph({ compound: true });
  g.setGraph({ rankdir: 'LR', nodesep: 16, ranksep: 48, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const groupIds = new Set<string>();
  for (const t of dag.tasks)
    if (t.groupId) {
      const parts = t.groupId.split('.');
      for (let i = 1; i <= parts.length; i++) groupIds.add(parts.slice(0, i).join('.'));
    }
  const parentOf = (gid: string) => (gid.includes('.') ? gid.slice(0, gid.lastIndexOf('.')) : null);
  // A task's node: itself, or the collapsed group it is inside.
  const nodeOf = new Map<string, string>();
  const members = new Map<string, string[]>();
  for (const t of dag.tasks) {
    const hidden = hiddenIn(t.groupId, o.collapsed);
    nodeOf.set(t.taskId, hidden ? `group:${hidden}` : t.taskId);
    if (hidden) (members.get(hidden) ?? members.set(hidden, []).get(hidden)!).push(t.taskId);
  }
  const visibleGroups = [...groupIds].filter((gid) => !hiddenIn(parentOf(gid), o.collapsed));
  for (const gid of visibleGroups) {
    if (o.collapsed.has(gid)) {
      const ids = members.get(gid) ?? [];
      const state = summaryOfStates(ids.map((t) => o.states.get(t) ?? null));
      g.setNode(`group:${gid}`, {
        width: nodeWidth(`▸ ${lastPart(gid)}`, `${ids.length} tasks${state ? ` · ${state}` : ''}`),
        height: NODE_HEIGHT,
        kind: 'collapsed',
        groupId: gid,
      });
    } else g.setNode(`cluster:${gid}`, { kind: 'cluster', groupId: gid });
  }
  for (const gid of visibleGroups) {
    const parent = parentOf(gid);
    if (parent) g.setParent(o.collapsed.has(gid) ? `group:${gid}` : `cluster:${gid}`, `cluster:${parent}`);
  }
  for (const t of dag.tasks) {
    if (nodeOf.get(t.taskId) !== t.taskId) continue;
    g.setNode(t.taskId, {
      width: nodeWidth(
        lastPart(t.taskId) + (t.mapped ? ' [ ]' : ''),
        `${t.operator}${o.states.get(t.taskId) ? ` · ${o.states.get(t.taskId)}` : ''}`,
      ),
      height: NODE_HEIGHT,
      kind: 'task',
    });
    if (t.groupId) g.setParent(t.taskId, `cluster:${t.groupId}`);
  }
  for (const t of dag.tasks)
    for (const u of t.upstream) {
      const from = nodeOf.get(u);
      const to = nodeOf.get(t.taskId)!;
      if (from && from !== to) g.setEdge(from, to);
    }
  dagre.layout(g);

  const width = Math.ceil(g.graph().width ?? 0);
  const height = Math.ceil(g.graph().height ?? 0);
  const out: string[] = [];
  // Group boxes first (outer before inner), then edges, then nodes on top.
  const clusters = visibleGroups
    .filter((gid) => !o.collapsed.has(gid))
    .sort((a, b) => a.split('.').length - b.split('.').length);
  for (const gid of clusters) {
    const n = g.node(`cluster:${gid}`);
    const x = n.x - n.width / 2;
    const y = n.y - n.height / 2;
    const toggled = new Set(o.collapsed).add(gid);
    out.push(
      `<g class="group" data-group-id="${escapeHtml(gid)}"><rect x="${x}" y="${y}" width="${n.width}" height="${n.height}"/>` +
        `<a href="${escapeHtml(o.collapseLink(toggled))}" class="group-label"><title>Collapse ${escapeHtml(gid)}</title>` +
        `<text x="${x + 8}" y="${y + 14}">▾ ${escapeHtml(lastPart(gid))}</text></a></g>`,
    );
  }
  for (const e of g.edges()) {
    const points = g.edge(e).points ?? [];
    if (!points.length) continue;
    const d = points
      .map((p: { x: number; y: number }, i: number) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
      .join(' ');
    out.push(`<path class="edge" d="${d}"/>`);
  }
  for (const id of g.nodes()) {
    const n = g.node(id);
    if (n.kind === 'cluster') continue;
    const x = n.x - n.width / 2;
    const y = n.y - n.height / 2;
    if (n.kind === 'collapsed') {
      const gid = n.groupId as string;
      const ids = members.get(gid) ?? [];
      const state = summaryOfStates(ids.map((t) => o.states.get(t) ?? null));
      const expanded = new Set(o.collapsed);
      expanded.delete(gid);
      out.push(
        `<a href="${escapeHtml(o.collapseLink(expanded))}" class="node collapsed-group" data-group-id="${escapeHtml(gid)}" data-state="${state ?? 'none'}">` +
          `<title>${escapeHtml(`${gid}: ${ids.length} tasks, ${state ?? 'no status'} (click to expand)`)}</title>` +
          nodeShape(x, y, n.width, state, null) +
          `<text x="${x + 14}" y="${y + 16}" style="font-weight:600">▸ ${escapeHtml(lastPart(gid))}</text>` +
          `<text x="${x + 14}" y="${y + 30}" class="sub">${ids.length} tasks${state ? ` · ${state}` : ''}</text></a>`,
      );
      continue;
    }
    const task = dag.tasks.find((t) => t.taskId === id)!;
    const state = o.states.get(id) ?? null;
    out.push(
      `<a href="${escapeHtml(o.taskLink(id))}" class="node" data-task-id="${escapeHtml(id)}" data-state="${state ?? 'none'}">` +
        `<title>${escapeHtml(`${id} (${task.operator}) ${state ?? 'no status'}`)}</title>` +
        nodeShape(x, y, n.width, state, task.uiColor) +
        `<text x="${x + 14}" y="${y + 16}">${escapeHtml(lastPart(id))}${task.mapped ? ' [ ]' : ''}</text>` +
        `<text x="${x + 14}" y="${y + 30}" class="sub">${escapeHtml(task.operator)}${state ? ` · ${escapeHtml(state)}` : ''}</text></a>`,
    );
  }
  return raw(
    `<svg class="graph" viewBox="0 0 ${width} ${height}" data-width="${width}" data-height="${height}" preserveAspectRatio="xMidYMin meet" role="img" aria-label="Graph of ${escapeHtml(dag.dagId)}">` +
      `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#9fb3c8"/></marker></defs>` +
      out.join('') +
      '</svg>',
  );
}

function nodeShape(x: number, y: number, w: number, state: string | null, uiColor: string | null): string {
  const fill = state ? (STATE_COLORS[state] ?? '#fff') : '#fff';
  return (
    `<rect x="${x}" y="${y}" width="${w}" height="${NODE_HEIGHT}" fill="${escapeHtml(uiColor ?? '#fff')}" stroke="${state ? fill : '#627d98'}" stroke-width="${state ? 2 : 1}"/>` +
    `<rect x="${x}" y="${y}" width="8" height="${NODE_HEIGHT}" fill="${fill}" stroke="none"/>`
  );
}
