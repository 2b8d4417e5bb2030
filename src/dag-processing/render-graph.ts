import type { SerializedDag, SerializedTask } from '../dag/serialized.js';

/** Direct downstream ids of every task. */
export function downstreamMap(dag: SerializedDag): Map<string, string[]> {
  const down = new Map<string, string[]>(dag.tasks.map((t) => [t.taskId, []]));
  for (const t of dag.tasks) for (const u of t.upstream) down.get(u)?.push(t.taskId);
  return down;
}

const label = (t: SerializedTask) => `<Task(${t.operator}): ${t.taskId}>`;

/** Airflow's tree view: each root, then its downstream tasks indented (repeated where shared). */
export function renderTree(dag: SerializedDag): string {
  const byId = new Map(dag.tasks.map((t) => [t.taskId, t]));
  const down = downstreamMap(dag);
  const lines: string[] = [];
  const walk = (id: string, depth: number) => {
    const t = byId.get(id);
    if (!t) return;
    lines.push(`${'    '.repeat(depth)}${label(t)}`);
    for (const d of down.get(id) ?? []) walk(d, depth + 1);
  };
  for (const t of dag.tasks) if (t.upstream.length === 0) walk(t.taskId, 0);
  return lines.join('\n');
}

const dotId = (s: string) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** Graphviz DOT, as `airflow dags show` prints it. */
export function renderDot(dag: SerializedDag): string {
  const lines = [
    `digraph ${dotId(dag.dagId)} {`,
    `  graph [label=${dotId(dag.dagId)} labelloc=t rankdir=LR]`,
  ];
  for (const t of dag.tasks) {
    const fill = t.uiColor ?? '#ffffff';
    lines.push(
      `  ${dotId(t.taskId)} [color="#000000" fillcolor="${fill}" label=${dotId(t.taskId)} shape=rectangle style="filled,rounded"]`,
    );
  }
  for (const t of dag.tasks) for (const u of t.upstream) lines.push(`  ${dotId(u)} -> ${dotId(t.taskId)}`);
  lines.push('}');
  return lines.join('\n');
}

/** Mermaid flowchart (renders on GitHub and in many wikis). */
export function renderMermaid(dag: SerializedDag): string {
  const ids = new Map(dag.tasks.map((t, i) => [t.taskId, `t${i}`]));
  const lines = ['flowchart LR'];
  for (const t of dag.tasks) lines.push(`  ${ids.get(t.taskId)}["${t.taskId.replaceAll('"', '#quot;')}"]`);
  for (const t of dag.tasks)
    for (const u of t.upstream) lines.push(`  ${ids.get(u)} --> ${ids.get(t.taskId)}`);
  return lines.join('\n');
}
