/**
 * Load a DAG file in the current process and return the DAGs it defines.
 *
 * TypeScript and JavaScript files are bundled with esbuild (the file's own relative imports are
 * inlined; packages stay external). The `updraft` import is pointed at this very package's entry
 * point, so the DAG file and the caller share one module instance and `instanceof` works, wherever
 * the file lives. The bundle is written as a hidden `.mjs` next to the source (so packages
 * resolve from the user's folder exactly as they would for the source), imported, and deleted.
 */
import { build, type Message, type Plugin } from 'esbuild';
import { existsSync, statSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DagImportError } from '../errors.js';
import { collectDags, isDag, type DAG } from '../dag/dag.js';

export const DAG_FILE_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/** The package's entry point (dist/index.js), also when this module runs from src under a test runner. */
export function updraftEntryPoint(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.resolve(here, '../index.js');
  if (existsSync(sibling)) return sibling;
  return path.resolve(here, '../../dist/index.js');
}

const selfReference: Plugin = {
  name: 'updraft-self-reference',
  setup(b) {
    const entry = pathToFileURL(updraftEntryPoint()).href;
    b.onResolve({ filter: /^updraft$/ }, () => ({ path: entry, external: true }));
  },
};

function formatMessages(messages: Message[], workingDir: string): string {
  return messages
    .map((m) => {
      const loc = m.location
        ? `${path.resolve(workingDir, m.location.file)}:${m.location.line}:${m.location.column + 1}: `
        : '';
      const line = m.location?.lineText
        ? `\n    ${m.location.lineText}\n    ${' '.repeat(m.location.column)}^`
        : '';
      return `${loc}${m.text}${line}`;
    })
    .join('\n');
}

/**
 * Bundle a DAG file to ESM text. Syntax errors become DagImportError with file:line:column.
 * `sourceMap` adds an inline map (costly to load; used to explain a failing import).
 */
export async function bundleDagFile(absPath: string, sourceMap = false): Promise<string> {
  return (await bundleWithInputs(absPath, sourceMap)).code;
}

async function bundleWithInputs(
  absPath: string,
  sourceMap: boolean,
): Promise<{ code: string; inputs: string[] }> {
  try {
    const result = await build({
      entryPoints: [absPath],
      // Source map paths relative to the file's own folder, where the bundle is written.
      absWorkingDir: path.dirname(absPath),
      outfile: path.join(path.dirname(absPath), 'bundle.mjs'),
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      // TaskFlow task ids come from function names; bundling must not rename them.
      keepNames: true,
      sourcemap: sourceMap ? 'inline' : false,
      sourcesContent: false,
      logLevel: 'silent',
      plugins: [selfReference],
      // The files that went into the bundle, so a cached bundle can be checked against all of them.
      metafile: true,
    });
    const out = result.outputFiles[0];
    if (!out) throw new DagImportError(`esbuild produced no output for ${absPath}`);
    const inputs = Object.keys(result.metafile?.inputs ?? {}).map((p) =>
      path.resolve(path.dirname(absPath), p),
    );
    return { code: out.text, inputs };
  } catch (error) {
    if (error instanceof DagImportError) throw error;
    const errors = (error as { errors?: Message[] }).errors;
    if (Array.isArray(errors) && errors.length > 0)
      throw new DagImportError(formatMessages(errors, path.dirname(absPath)), { cause: error });
    throw new DagImportError(`Could not compile ${absPath}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Bundles kept per process. A warm task process runs many tries of the same DAG file; bundling is
 * most of the cost of importing it (8 of ~11 ms for a 1,000-task file), while evaluating the
 * bundle afresh for every try is what keeps tries isolated. So the bundle text is reused as long
 * as every input file esbuild read (the DAG file and the local modules it imports) keeps its
 * size and modification time. importDagFile still evaluates the module anew each time;
 * importDagFileReusing (the warm task processes) also keeps the evaluation.
 */
interface CachedBundle {
  code: string;
  inputs: { file: string; mtimeMs: number; size: number }[];
}
const BUNDLE_CACHE_LIMIT = 256;
const bundleCache = new Map<string, CachedBundle>();

/**
 * Synchronous on purpose: a warm task process checks this before every try, and an async stat is a
 * round trip through libuv's thread pool (two thread wake-ups, and their context switches on a
 * busy host) for what takes the kernel a few microseconds.
 */
function fingerprint(files: string[]): CachedBundle['inputs'] | null {
  try {
    return files.map((file) => {
      const st = statSync(file);
      return { file, mtimeMs: st.mtimeMs, size: st.size };
    });
  } catch {
    return null; // an input is gone: bundle again (and let esbuild report what is missing)
  }
}

async function cachedBundle(absPath: string): Promise<{ code: string; inputs: string[] }> {
  const hit = bundleCache.get(absPath);
  if (hit) {
    const now = fingerprint(hit.inputs.map((i) => i.file));
    if (now && now.every((n, i) => n.mtimeMs === hit.inputs[i]!.mtimeMs && n.size === hit.inputs[i]!.size)) {
      return { code: hit.code, inputs: hit.inputs.map((i) => i.file) };
    }
  }
  const before = Date.now();
  const { code, inputs } = await bundleWithInputs(absPath, false);
  const prints = fingerprint(inputs);
  // A file written during the build may carry an mtime we already read: don't trust such a bundle.
  if (prints && prints.every((p) => p.mtimeMs < before)) {
    if (bundleCache.size >= BUNDLE_CACHE_LIMIT) bundleCache.delete(bundleCache.keys().next().value!);
    bundleCache.set(absPath, { code, inputs: prints });
  } else {
    bundleCache.delete(absPath);
  }
  return { code, inputs };
}

let counter = 0;

async function writeBundle(absPath: string, code: string): Promise<string> {
  const name = `.${path.basename(absPath)}.updraft-${process.pid}-${++counter}.mjs`;
  const nextToSource = path.join(path.dirname(absPath), name);
  try {
    await writeFile(nextToSource, code, { flag: 'wx' });
    return nextToSource;
  } catch {
    // A read-only DAG folder: packages then resolve from the temp dir (and the updraft package).
    const fallback = path.join(os.tmpdir(), name);
    await writeFile(fallback, code);
    return fallback;
  }
}

/** True for the hidden bundles importDagFile writes (discovery skips them). */
export function isTransientBundle(fileName: string): boolean {
  return /^\..+\.updraft-\d+-\d+\.mjs$/.test(path.basename(fileName));
}

/**
 * Cut the stack where Node's module loader and Updraft's own loader begin: the frames above
 * that point are the user's, the rest say nothing about their file.
 */
function userFrames(stack: string): string {
  const lines = stack.split('\n');
  const cut = lines.findIndex(
    (line) =>
      /^\s+at /.test(line) && (line.includes('node:internal') || /import-dag-file\.(ts|js)/.test(line)),
  );
  return (cut === -1 ? lines : lines.slice(0, cut)).join('\n');
}

/**
 * DAGs are collected by watching what gets constructed while a module evaluates, so two
 * evaluations in one process must not overlap (the DAGs of one would land in the other's list):
 * they take turns.
 */
let evaluating: Promise<unknown> = Promise.resolve();

/** Evaluate a bundle as a module; returns its exports and the DAGs constructed meanwhile. */
function evaluateBundle(
  absPath: string,
  code: string,
): Promise<{ exported: Record<string, unknown>; registered: DAG[] }> {
  const turn = evaluating.then(() => evaluateBundleAlone(absPath, code));
  evaluating = turn.catch(() => undefined);
  return turn;
}

async function evaluateBundleAlone(
  absPath: string,
  code: string,
): Promise<{ exported: Record<string, unknown>; registered: DAG[] }> {
  const bundlePath = await writeBundle(absPath, code);
  let exported: Record<string, unknown> = {};
  try {
    const registered = await collectDags(async () => {
      exported = (await import(pathToFileURL(bundlePath).href)) as Record<string, unknown>;
    });
    return { exported, registered };
  } catch (error) {
    const e = error as Error;
    const stack = (e?.stack ?? String(error))
      .replaceAll(pathToFileURL(bundlePath).href, absPath)
      .replaceAll(bundlePath, absPath);
    throw new DagImportError(userFrames(stack), { cause: error });
  } finally {
    await unlink(bundlePath).catch(() => undefined);
  }
}

/**
 * Import the file and return its DAGs (each validated, with fileloc set). Each call evaluates the
 * file afresh. Anything that goes wrong — syntax, a throw at import, an invalid DAG — is a
 * DagImportError whose message says what and where.
 *
 * Loading with source maps costs ~10x more per file, so the first attempt goes without; only if
 * it throws is the file evaluated once more with source maps on, so the error's stack points at
 * the lines of the user's .ts source.
 */
export async function importDagFile(absPath: string): Promise<DAG[]> {
  if (!path.isAbsolute(absPath)) throw new DagImportError(`DAG file path must be absolute: ${absPath}`);
  if (!existsSync(absPath)) throw new DagImportError(`DAG file not found: ${absPath}`);
  return evaluateDags(absPath, (await cachedBundle(absPath)).code);
}

/**
 * importDagFile, plus the local modules bundled with the file (absolute paths, the file itself
 * left out): the DAG processor re-parses the file when one of them changes.
 */
export async function importDagFileWithModules(
  absPath: string,
): Promise<{ dags: DAG[]; localModules: string[] }> {
  if (!path.isAbsolute(absPath)) throw new DagImportError(`DAG file path must be absolute: ${absPath}`);
  if (!existsSync(absPath)) throw new DagImportError(`DAG file not found: ${absPath}`);
  const { code, inputs } = await cachedBundle(absPath);
  const dags = await evaluateDags(absPath, code);
  return { dags, localModules: inputs.filter((file) => file !== absPath) };
}

/**
 * DAGs evaluated per process, for importDagFileReusing. An ES module is never unloaded, so
 * evaluating a 1,000-task file for every try costs ~10 ms and keeps every copy alive until the
 * process exits; reusing one evaluation per file version costs a stat() of its inputs.
 */
const EVALUATED_LIMIT = 32;
const evaluated = new Map<string, { code: string; dags: DAG[] }>();

/**
 * Like importDagFile, but a file whose bundle is unchanged (same inputs, same sizes and mtimes)
 * is not evaluated again: the DAG objects of the last evaluation are returned. Callers must not
 * change them (the task runner runs a copy of the operator; see BaseOperator.prepareForExecution).
 */
export async function importDagFileReusing(absPath: string): Promise<DAG[]> {
  if (!path.isAbsolute(absPath)) throw new DagImportError(`DAG file path must be absolute: ${absPath}`);
  if (!existsSync(absPath)) throw new DagImportError(`DAG file not found: ${absPath}`);
  const { code } = await cachedBundle(absPath);
  const hit = evaluated.get(absPath);
  if (hit && hit.code === code) return hit.dags;
  evaluated.delete(absPath);
  const dags = await evaluateDags(absPath, code);
  if (evaluated.size >= EVALUATED_LIMIT) evaluated.delete(evaluated.keys().next().value!);
  evaluated.set(absPath, { code, dags });
  return dags;
}

async function evaluateDags(absPath: string, code: string): Promise<DAG[]> {
  let loaded: { exported: Record<string, unknown>; registered: DAG[] };
  try {
    loaded = await evaluateBundle(absPath, code);
  } catch (firstError) {
    // Evaluate again with source maps for a stack in the user's own line numbers; if this second
    // run does not fail (a flaky file), report the first error as it was.
    const wasEnabled = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled ?? false;
    process.setSourceMapsEnabled(true);
    try {
      await evaluateBundle(absPath, await bundleDagFile(absPath, true));
    } finally {
      process.setSourceMapsEnabled(wasEnabled);
    }
    throw firstError;
  }
  const { exported, registered } = loaded;
  const dags: DAG[] = [...registered];
  for (const value of Object.values(exported)) {
    const candidates = Array.isArray(value) ? value : [value];
    for (const c of candidates) if (isDag(c) && !dags.includes(c)) dags.push(c);
  }
  const seen = new Map<string, DAG>();
  for (const dag of dags) {
    const other = seen.get(dag.dagId);
    if (other && other !== dag)
      throw new DagImportError(`DAG id '${dag.dagId}' is defined twice in ${absPath}`);
    seen.set(dag.dagId, dag);
    dag.fileloc = absPath;
    dag.validate();
  }
  return dags;
}
