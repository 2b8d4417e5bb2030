import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/**
 * The structure rules anyone can run (`npm run lint` runs the same dependency-cruiser check):
 * no import cycle at run time, nothing in src/dag/ importing the runtime, src/core/ importing
 * nothing above it, the provisioning toolkit loaded only lazily, and no SQL dialect branch
 * outside src/db/.
 */
const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const depcruise = path.join(root, 'node_modules/.bin/depcruise');
const config = path.join(root, '.dependency-cruiser.cjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

async function violations(cwd: string): Promise<Violation[]> {
  // Exit status is the number of errors: the JSON report is the answer either way.
  const { stdout } = await run(depcruise, ['src', '--config', config, '--output-type', 'json'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string }) => {
    if (typeof error.stdout === 'string' && error.stdout.startsWith('{')) return { stdout: error.stdout };
    throw error;
  });
  const report = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations;
}

describe('module structure (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  it('src/ keeps every rule', { timeout: 300_000 }, async () => {
    expect(await violations(root)).toEqual([]);
  });

  it(
    'each rule catches what it is meant to catch (a fixture tree breaks each once)',
    { timeout: 300_000 },
    async () => {
      const found = await violations(path.join(root, 'test/structure/fixtures/broken'));
      const byRule = (name: string) =>
        found.filter((v) => v.rule.name === name).map((v) => `${v.from} -> ${v.to}`);
      expect(byRule('dag-does-not-import-runtime')).toEqual(['src/dag/operator.ts -> src/worker/pool.ts']);
      expect(byRule('core-imports-nothing-above-it')).toEqual(['src/core/rule.ts -> src/dag/operator.ts']);
      expect(byRule('provision-is-loaded-lazily')).toEqual(['src/cli/second.ts -> src/provision/toolkit.ts']);
      expect(byRule('no-circular').length).toBeGreaterThan(0);
      expect(byRule('no-circular').every((edge) => edge.includes('src/cli/'))).toBe(true);
    },
  );
});

/**
 * SQL that depends on the database server (MySQL statement batches and session variables,
 * RETURNING, dialect names compared in code) belongs to src/db/ alone: elsewhere, code asks the
 * store (TaskInstanceStore) or MetadataDb.capabilities.
 */
const DIALECT_BRANCH: readonly [RegExp, string][] = [
  [/\.dialect\b/, 'reads MetadataDb.dialect'],
  [/\.batches\b/, 'reads MetadataDb.batches'],
  [/\bDialectName\b/, 'names DialectName'],
  [
    /[=!]==?\s*['"](?:mysql|postgres|sqlite)['"]|['"](?:mysql|postgres|sqlite)['"]\s*[=!]==?/,
    'compares a dialect name',
  ],
  [/case\s+['"](?:mysql|postgres|sqlite)['"]\s*:/, 'switches on a dialect name'],
  [/@updraft_\w+/, 'uses a MySQL session variable'],
  [/\blast_insert_id\s*\(/i, "uses MySQL's last_insert_id()"],
  [/\bmultipleStatements\b/, 'sends multi-statement queries'],
];

/** The dialect branches in one source text: "line: why" for each. */
export function dialectBranches(source: string): string[] {
  const hits: string[] = [];
  source.split('\n').forEach((line, i) => {
    for (const [pattern, why] of DIALECT_BRANCH) if (pattern.test(line)) hits.push(`${i + 1}: ${why}`);
  });
  return hits;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

describe('no dialect branch outside src/db/', () => {
  it('finds none in src/ outside src/db/', async () => {
    const hits: string[] = [];
    for (const file of await sourceFiles(path.join(root, 'src'))) {
      const relative = path.relative(root, file);
      if (relative.startsWith(`src${path.sep}db${path.sep}`)) continue;
      for (const hit of dialectBranches(await readFile(file, 'utf8'))) hits.push(`${relative}:${hit}`);
    }
    expect(hits).toEqual([]);
  });

  it('recognises the branches it forbids', () => {
    expect(dialectBranches("if (db.dialect === 'mysql') run();")).toEqual([
      '1: reads MetadataDb.dialect',
      '1: compares a dialect name',
    ]);
    expect(dialectBranches("  case 'postgres':")).toEqual(['1: switches on a dialect name']);
    expect(dialectBranches('await sql`set @updraft_claimed = row_count()`')).toEqual([
      '1: uses a MySQL session variable',
    ]);
    expect(dialectBranches('if (store.batches) return fast();')).toEqual(['1: reads MetadataDb.batches']);
    expect(dialectBranches("const connType = scheme === 'postgresql' ? 'postgres' : scheme;")).toEqual([]);
  });
});
