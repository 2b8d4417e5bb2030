import { readFile } from 'node:fs/promises';
import type { AppContext } from '../context.js';
import { authoringDefaultsFromConfig } from '../dag/defaults.js';
import type { Logger } from '../log.js';
import { listDagFiles, listExampleFiles } from './discover.js';
import { ParsePool } from './parse-pool.js';
import { removeMissingFiles, storeParseResult } from './store.js';
import { decodeDependencies, fileHash, hashWithDependencies, sha256 } from './source-hash.js';
import { runPendingDagCallbacks } from './run-dag-callbacks.js';

async function readSource(file: string): Promise<{ source: string; hash: string } | undefined> {
  try {
    const source = await readFile(file, 'utf8');
    return { source, hash: sha256(source) };
  } catch {
    return undefined;
  }
}

export interface ProcessingStats {
  filesFound: number;
  filesParsed: number;
  filesUnchanged: number;
  dags: number;
  importErrors: number;
  /** serialized_dag rows written (new or changed DAG structure). */
  serializedWrites: number;
  deactivatedDags: string[];
  removedFiles: string[];
  /** DAG-level callbacks run in this pass (see run-dag-callbacks.ts). */
  callbacksRun: number;
  durationMs: number;
}

export interface ProcessOptions {
  /** Re-parse every file even if unchanged (`dags reserialize`). */
  force?: boolean;
  /** Reuse a pool across passes (the DagProcessor loop does); otherwise one is made and closed. */
  pool?: ParsePool;
  log?: Logger;
}

export function createParsePool(ctx: AppContext, log?: Logger): ParsePool {
  const v = ctx.config.values;
  return new ParsePool({
    size: v.scheduler.parsing_processes,
    timeoutMs: Math.max(1, v.core.dagbag_import_timeout * 1000),
    defaults: authoringDefaultsFromConfig(v),
    log: log ?? ctx.log.child('dag-processor'),
  });
}

/** The files a pass looks at: core.dags_folder, plus the bundled examples when core.load_examples. */
export async function discoverFiles(ctx: AppContext): Promise<string[]> {
  const v = ctx.config.values;
  const files = await listDagFiles(v.core.dags_folder);
  if (v.core.load_examples) files.push(...(await listExampleFiles()));
  return files;
}

/**
 * One pass of the DAG processor: discover files, parse the new and changed ones in isolated
 * processes, store their DAGs / import errors, and deactivate DAGs whose files are gone.
 * Unchanged files (same sha256 as dag_code) are not imported at all.
 */
export async function processDagFolderOnce(
  ctx: AppContext,
  options: ProcessOptions = {},
): Promise<ProcessingStats> {
  const started = performance.now();
  const log = options.log ?? ctx.log.child('dag-processor');
  const db = (await ctx.db()).kysely;
  const files = await discoverFiles(ctx);
  // Forget vanished files first, so that a DAG id they held is free for another file in this pass.
  const removed = await removeMissingFiles(db, new Set(files));
  // What each file's last parse recorded: its hash, and the local modules that hash covers.
  const known = new Map<string, { hash: string; dependencies: string[] }>();
  for (const r of await db
    .selectFrom('dag_code')
    .select(['fileloc', 'source_hash', 'dependencies'])
    .execute())
    known.set(r.fileloc, { hash: r.source_hash, dependencies: decodeDependencies(r.dependencies) });
  // Files that failed are tried again each pass (their error may depend on other files, e.g. a
  // duplicate DAG id), except after a timeout: those wait until they change.
  const retry = new Set<string>();
  for (const r of await db.selectFrom('import_error').select(['filename', 'stacktrace']).execute()) {
    if (!r.stacktrace.startsWith('DagBag import timeout')) retry.add(r.filename);
  }

  const changed: string[] = [];
  // Source as read here: recorded for files whose worker never answered (timeout, crash), so
  // that an unchanged endless file is not retried on every pass.
  const sources = new Map<string, { source: string; hash: string }>();
  for (const file of files) {
    const before = known.get(file);
    let hash: string | undefined;
    const own = await fileHash(file); // undefined: vanished between listing and reading
    if (own) {
      if (own.source !== undefined) sources.set(file, { source: own.source, hash: own.hash });
      // A file that imports local modules is unchanged only if they are too.
      hash = before?.dependencies.length
        ? await hashWithDependencies(own.hash, before.dependencies)
        : own.hash;
    }
    if (!options.force && !retry.has(file) && hash !== undefined && hash === before?.hash) continue;
    changed.push(file);
  }

  const stats: ProcessingStats = {
    filesFound: files.length,
    filesParsed: changed.length,
    filesUnchanged: files.length - changed.length,
    dags: 0,
    importErrors: 0,
    serializedWrites: 0,
    deactivatedDags: [],
    removedFiles: [],
    callbacksRun: 0,
    durationMs: 0,
  };

  let newErrors = 0;
  const pool = options.pool ?? createParsePool(ctx, log);
  const now = Date.now();
  const pausedAtCreation = ctx.config.values.core.dags_are_paused_at_creation;
  try {
    // Parse in parallel, write one file at a time (SQLite has a single writer anyway).
    let writes = Promise.resolve();
    await Promise.all(
      changed.map(async (file) => {
        const res = await pool.parse(file);
        if (res.cancelled) {
          stats.filesParsed--;
          return;
        }
        if (!res.sourceHash) {
          const read = sources.get(file) ?? (await readSource(file));
          if (read) {
            res.source = read.source;
            res.sourceHash = read.hash;
          }
        }
        writes = writes.then(async () => {
          const out = await storeParseResult(db, res, { now, pausedAtCreation });
          stats.dags += out.dagIds.length;
          stats.serializedWrites += out.serializedWrites;
          stats.deactivatedDags.push(...out.deactivated);
          if (out.importError) {
            stats.importErrors++;
            // Failed files are retried every pass: warn when the error is new, not every time.
            if (out.errorIsNew) newErrors++;
            (out.errorIsNew ? log.warn : log.debug)(
              `Failed to import ${file}: ${out.error?.split('\n')[0] ?? ''}`,
            );
          } else {
            log.debug(
              `Parsed ${file} in ${res.durationMs.toFixed(0)} ms: ${out.dagIds.join(', ') || 'no DAGs'}`,
            );
          }
        });
        await writes;
      }),
    );
    await writes;
    stats.callbacksRun = await runPendingDagCallbacks(db, pool, log);
  } finally {
    if (!options.pool) await pool.close();
  }
  stats.removedFiles = removed.files;
  stats.deactivatedDags.push(...removed.dags);
  stats.durationMs = performance.now() - started;
  if (stats.filesParsed > 0 || removed.files.length > 0) {
    const changedSomething = stats.serializedWrites > 0 || newErrors > 0 || stats.deactivatedDags.length > 0;
    (changedSomething ? log.info : log.debug)(
      `Processed ${stats.filesFound} files: ${stats.filesParsed} parsed, ${stats.dags} DAGs, ${stats.importErrors} import errors, ` +
        `${stats.deactivatedDags.length} deactivated, in ${stats.durationMs.toFixed(0)} ms`,
    );
  }
  return stats;
}

/** How often the processor looks for DAG callback requests between passes. */
const CALLBACK_CHECK_MS = 1000;

/**
 * The DAG processor loop, run inside the scheduler or by `updraft dag-processor`: a pass every
 * scheduler.min_file_process_interval seconds (unchanged files cost one read and a hash), and
 * between passes the DAG callbacks the scheduler asked for.
 */
export class DagProcessor {
  private pool: ParsePool | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly ctx: AppContext,
    private readonly opts: { intervalMs?: number; onPass?: (stats: ProcessingStats) => void } = {},
  ) {
    this.log = ctx.log.child('dag-processor');
  }

  get intervalMs(): number {
    return (
      this.opts.intervalMs ??
      Math.max(1000, this.ctx.config.values.scheduler.min_file_process_interval * 1000)
    );
  }

  async runOnce(force = false): Promise<ProcessingStats> {
    this.pool ??= createParsePool(this.ctx, this.log);
    const stats = await processDagFolderOnce(this.ctx, { pool: this.pool, log: this.log, force });
    this.opts.onPass?.(stats);
    return stats;
  }

  /** Run passes until stop() (or `maxPasses` passes, for `dag-processor -n`). */
  async run(maxPasses = Infinity): Promise<void> {
    let passes = 0;
    while (!this.stopped && passes < maxPasses) {
      try {
        await this.runOnce();
      } catch (error) {
        this.log.error(`DAG processing pass failed: ${(error as Error).message}`);
      }
      passes++;
      if (this.stopped || passes >= maxPasses) break;
      // Between passes, DAG callbacks the scheduler asks for run within a second or so.
      const nextPass = Date.now() + this.intervalMs;
      while (!this.stopped && Date.now() < nextPass) {
        const woken = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), Math.min(CALLBACK_CHECK_MS, nextPass - Date.now()));
          this.wake = () => {
            clearTimeout(t);
            resolve(true);
          };
        });
        if (woken || this.stopped) break;
        await this.runCallbacks();
      }
    }
    await this.close();
  }

  private async runCallbacks(): Promise<void> {
    try {
      this.pool ??= createParsePool(this.ctx, this.log);
      await runPendingDagCallbacks((await this.ctx.db()).kysely, this.pool, this.log);
    } catch (error) {
      this.log.error(`Running DAG callbacks failed: ${(error as Error).message}`);
    }
  }

  /** Ask for a pass now (e.g. after `dags reserialize`). */
  poke(): void {
    this.wake?.();
  }

  /** Stop soon: a pass in progress ends without waiting for slow files (they are not recorded). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
    void this.pool?.close();
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }
}
