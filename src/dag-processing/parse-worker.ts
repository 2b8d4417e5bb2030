/**
 * Child-process entry of the DAG processor: imports DAG files one at a time on request and sends
 * back their serialized DAGs (or the import error). Runs user code, so it lives in its own process
 * that the parent kills on timeout.
 */
import { readFile } from 'node:fs/promises';
import { setAuthoringDefaults, type AuthoringDefaults } from '../dag/defaults.js';
import type { SerializedDag } from '../dag/serialized.js';
import { isoNoMs } from '../dag/execution.js';
import { dagRunInfo } from '../core/run-context.js';
import type { DagRunRow } from '../db/tables.js';
import { importDagFile, importDagFileWithModules } from './import-dag-file.js';
import { hashWithDependencies, sha256 } from './source-hash.js';

export interface ParseRequest {
  id: number;
  file: string;
  defaults: AuthoringDefaults;
  /** Run this DAG-level callback instead of parsing (nothing is stored from such a request). */
  callback?: DagCallbackCall;
}

/** A DAG-level callback to run, and the run it is about (a stored row: plain JSON). */
export interface DagCallbackCall {
  dagId: string;
  runId: string;
  callback: 'on_success_callback' | 'on_failure_callback';
  reason: string | null;
  run: DagRunRow;
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
    sourceHash = sha256(source);
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

/** Import the file and call one of its DAG's callbacks with Airflow's callback context. */
async function runDagCallback(req: ParseRequest, call: DagCallbackCall): Promise<ParseResponse> {
  const started = performance.now();
  const answer = (error: string | null): ParseResponse => ({
    id: req.id,
    file: req.file,
    sourceHash: '',
    dependencies: [],
    source: '',
    dags: [],
    error,
    durationMs: performance.now() - started,
  });
  try {
    setAuthoringDefaults(req.defaults);
    const dag = (await importDagFile(req.file)).find((d) => d.dagId === call.dagId);
    if (!dag) return answer(`DAG '${call.dagId}' is no longer defined in ${req.file}`);
    const fn =
      call.callback === 'on_success_callback'
        ? dag.callbacks.onSuccessCallback
        : dag.callbacks.onFailureCallback;
    if (typeof fn !== 'function') return answer(`DAG '${call.dagId}' no longer has an ${call.callback}`);
    const dagRun = dagRunInfo(call.run);
    const logical = dagRun.logicalDate;
    await fn({
      dagId: call.dagId,
      runId: call.runId,
      reason: call.reason ?? undefined,
      dag,
      run_id: call.runId,
      dag_run: dagRun,
      logical_date: logical,
      ds: logical.toISOString().slice(0, 10),
      ts: isoNoMs(logical),
      conf: dagRun.conf,
    });
    return answer(null);
  } catch (error) {
    const e = error as Error;
    return answer(e?.stack ?? String(error));
  }
}

process.on('message', (msg: ParseRequest) => {
  const work = msg.callback ? runDagCallback(msg, msg.callback) : parse(msg);
  void work.then((res) => process.send?.(res));
});
// A DAG file that leaves an unhandled rejection behind should not kill the worker for the next file.
process.on('unhandledRejection', () => undefined);
process.send?.({ ready: true });
