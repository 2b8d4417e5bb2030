/**
 * How commands print lists: `-o table` (default, aligned columns), `json`, `yaml`, `plain`
 * (tab-separated, no header). One function, so every listing command behaves the same.
 */
export type OutputFormat = 'table' | 'json' | 'yaml' | 'plain';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json', 'yaml', 'plain'];

export type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (Array.isArray(value)) return value.map(cell).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function yamlScalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(yamlScalar).join(', ')}]`;
  if (typeof value === 'object') return JSON.stringify(value);
  return JSON.stringify(String(value));
}

export function formatRows(rows: Row[], columns: string[], format: OutputFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(
        rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))),
        null,
        2,
      );
    case 'yaml':
      if (rows.length === 0) return '[]';
      return rows
        .map((r) => columns.map((c, i) => `${i === 0 ? '- ' : '  '}${c}: ${yamlScalar(r[c])}`).join('\n'))
        .join('\n');
    case 'plain':
      return rows.map((r) => columns.map((c) => cell(r[c])).join('\t')).join('\n');
    case 'table': {
      if (rows.length === 0) return 'No data found';
      const cells = rows.map((r) => columns.map((c) => cell(r[c])));
      const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
      const line = (values: string[]) =>
        values
          .map((v, i) => v.padEnd(widths[i]!))
          .join(' | ')
          .trimEnd();
      return [line(columns), widths.map((w) => '='.repeat(w)).join('=+='), ...cells.map(line)].join('\n');
    }
  }
}

export function printRows(rows: Row[], columns: string[], format: OutputFormat): void {
  const text = formatRows(rows, columns, format);
  if (text) process.stdout.write(text + '\n');
}
