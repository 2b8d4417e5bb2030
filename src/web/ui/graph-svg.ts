import type { SerializedDag } from '../../dag/serialized.js';
import { STATE_COLORS } from './assets.js';
import { escapeHtml, raw, type SafeHtml } from './html.js';

/**
 * A layered drawing of the DAG: each task's column is its longest distance from a root, rows
 * follow declaration order within a column. Nodes are coloured by the state of the chosen run.
 */
export function graphSvg(
  dag: SerializedDag,
  states: Map<string, string | null>,
  link: (taskId: string) => string,
): SafeHtml {
  const depth = new Map<string, number>();
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle would have failed import; stay safe anyway
    visiting.add(id);
    const ups = byId.get(id)?.upstream ?? [];
    const d = ups.length ? Math.max(...ups.map(depthOf)) + 1 : 0;
    depth.set(id, d);
    return d;
  };
  dag.tasks.forEach((t) => depthOf(t.taskId));
  const columns: string[][] = [];
  for (const t of dag.tasks) (columns[depth.get(t.taskId)!] ??= []).push(t.taskId);
  const W = 190;
  const H = 34;
  const GX = 60;
  const GY = 16;
  const pos = new Map<string, { x: number; y: number }>();
  columns.forEach((col, c) =>
    col.forEach((id, r) => pos.set(id, { x: 10 + c * (W + GX), y: 10 + r * (H + GY) })),
  );
  const width = 20 + columns.length * (W + GX) - GX;
  const height = 20 + Math.max(1, ...columns.map((c) => c.length)) * (H + GY) - GY;
  const edges: string[] = [];
  for (const t of dag.tasks) {
    const to = pos.get(t.taskId)!;
    for (const u of t.upstream) {
      const from = pos.get(u);
      if (!from) continue;
      const x1 = from.x + W;
      const y1 = from.y + H / 2;
      const x2 = to.x - 4;
      const y2 = to.y + H / 2;
      const mid = (x1 + x2) / 2;
      edges.push(`<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}"/>`);
    }
  }
  const nodes = dag.tasks.map((t) => {
    const p = pos.get(t.taskId)!;
    const state = states.get(t.taskId) ?? null;
    const fill = state ? (STATE_COLORS[state] ?? '#fff') : '#fff';
    const label = t.taskId.length > 26 ? `${t.taskId.slice(0, 25)}…` : t.taskId;
    return (
      `<a href="${escapeHtml(link(t.taskId))}" class="node" data-task-id="${escapeHtml(t.taskId)}"><title>${escapeHtml(`${t.taskId} (${t.operator}) ${state ?? 'no status'}`)}</title>` +
      `<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" fill="${t.uiColor ?? '#fff'}"/>` +
      `<rect x="${p.x}" y="${p.y}" width="8" height="${H}" fill="${fill}" stroke="none"/>` +
      `<text x="${p.x + 14}" y="${p.y + 14}">${escapeHtml(label)}</text>` +
      `<text x="${p.x + 14}" y="${p.y + 27}" fill="#627d98" style="font-size:10px">${escapeHtml(t.operator)}${state ? ` · ${escapeHtml(state)}` : ''}</text></a>`
    );
  });
  return raw(
    `<svg class="graph" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Graph of ${escapeHtml(dag.dagId)}">` +
      `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#9fb3c8"/></marker></defs>` +
      edges.join('') +
      nodes.join('') +
      '</svg>',
  );
}
