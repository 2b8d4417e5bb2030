import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAG_FILE_EXTENSIONS, isTransientBundle } from './import-dag-file.js';

/** Name of the ignore file, as in Airflow: one regular expression per line, matched against paths relative to its folder. */
export const IGNORE_FILE = '.airflowignore';

function loadIgnorePatterns(dir: string): RegExp[] {
  const file = path.join(dir, IGNORE_FILE);
  if (!existsSync(file)) return [];
  const patterns: RegExp[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    try {
      patterns.push(new RegExp(line));
    } catch {
      // Airflow logs and ignores an invalid pattern; so do we (the rest of the file still applies).
    }
  }
  return patterns;
}

interface Scope {
  base: string;
  patterns: RegExp[];
}

function ignored(absPath: string, scopes: Scope[]): boolean {
  return scopes.some((s) => {
    const rel = path.relative(s.base, absPath);
    return s.patterns.some((p) => p.test(rel));
  });
}

/**
 * Every DAG file candidate under `folder` (recursively), sorted: .ts/.mts/.js/.mjs files not
 * excluded by any `.airflowignore` on the way down (a pattern applies to its folder and below).
 * node_modules, hidden folders and declaration files (.d.ts) are skipped.
 */
export async function listDagFiles(folder: string): Promise<string[]> {
  const root = path.resolve(folder);
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = async (dir: string, scopes: Scope[]) => {
    const own = loadIgnorePatterns(dir);
    const active = own.length > 0 ? [...scopes, { base: dir, patterns: own }] : scopes;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name === 'node_modules' || e.name.startsWith('.') || e.name === '__pycache__') continue;
        if (ignored(abs, active)) continue;
        await walk(abs, active);
      } else if (e.isFile() || e.isSymbolicLink()) {
        if (!(DAG_FILE_EXTENSIONS as readonly string[]).includes(path.extname(e.name))) continue;
        if (e.name.endsWith('.d.ts') || e.name.endsWith('.d.mts') || isTransientBundle(e.name)) continue;
        if (ignored(abs, active)) continue;
        out.push(abs);
      }
    }
  };
  await walk(root, []);
  return out.sort();
}

/** Folder of the bundled example DAGs (compiled into dist/examples/dags). */
export function examplesFolder(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.resolve(here, '../examples/dags');
  if (existsSync(path.join(here, 'discover.js'))) return sibling;
  return path.resolve(here, '../../dist/examples/dags');
}

/** The bundled example DAG files (compiled .js only). */
export async function listExampleFiles(): Promise<string[]> {
  return (await listDagFiles(examplesFolder())).filter((f) => f.endsWith('.js'));
}
