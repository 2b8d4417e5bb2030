/**
 * Child-process entry of the DAG processor: imports DAG files one at a time on request and sends
 * back their serialized DAGs (or the import error). Runs user code, so it lives in its own process
 * that the parent kills on timeout.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setAuthoringDefaults, type AuthoringDefaults } from '../dag/defaults.js';
import type { SerializedDag } from '../dag/serialized.js';
import { importDagFileWithModules } from './import-dag-file.js';
import { hashWithDependencies } from './source-hash.js';

export interface ParseRequest {
  id: number;
  file: string;
  defaults: AuthoringDefaults;
}

export interface ParseResponse {
  id: number;
  file: string;
  /**
   * sha256 of the source as read just before importing it, combined with the hashes of the local
   * modules it imports (source-hash.ts).
   */
  sourceHash: string;
  /** The local modules bundled with the file (absolute paths). */
  dependencies: string[];
  source: string;
  dags: SerializedDag[];
  error: string | null;
  durationMs: number;
  /** The pool was closed before this file was parsed: nothing to record. */
  cancelled?: boolean;
}

async function parse(req: ParseRequest): Promise<ParseResponse> {
  const started = performance.now();
  let source = '';
  let sourceHash = '';
  try {
    source = await readFile(req.file, 'utf8');
    sourceHash = createHash('sha256').update(source).digest('hex');
    setAuthoringDefaults(req.defaults);
    const { dags, localModules } = await importDagFileWithModules(req.file);
    const serialized = dags.map((d) => d.serialize());
    // Modules read after the import: one edited in between is caught by the next pass only if
    // it changes again; the DAG file itself is hashed before, like Airflow's DagBag does.
    const combined = await hashWithDependencies(sourceHash, localModules);
    return {
      id: req.id,
      file: req.file,
      // A module that vanished right after the import: record no hash, so the next pass parses again.
      sourceHash: combined ?? '',
      dependencies: combined === undefined ? [] : localModules,
      source,
      dags: serialized,
      error: null,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    const e = error as Error;
    const text = e?.message && e.name === 'DagImportError' ? e.message : (e?.stack ?? String(error));
    return {
      id: req.id,
      file: req.file,
      sourceHash,
      dependencies: [],
      source,
      dags: [],
      error: text,
      durationMs: performance.now() - started,
    };
  }
}

process.on('message', (msg: ParseRequest) => {
  void parse(msg).then((res) => process.send?.(res));
});
// A DAG file that leaves an unhandled rejection behind should not kill the worker for the next file.
process.on('unhandledRejection', () => undefined);
process.send?.({ ready: true });
