import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthoringDefaults } from '../dag/defaults.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { DagCallbackCall, ParseRequest, ParseResponse } from './parse-worker.js';

function workerEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const sibling = path.join(here, 'parse-worker.js');
  return existsSync(sibling) ? sibling : path.resolve(here, '../../dist/dag-processing/parse-worker.js');
}

function cancelledResponse(file: string): ParseResponse {
  return {
    id: 0,
    file,
    sourceHash: '',
    dependencies: [],
    source: '',
    dags: [],
    error: null,
    durationMs: 0,
    cancelled: true,
  };
}

/** Delete the hidden bundles a killed worker left next to `file` (or in the temp dir). */
function removeBundles(file: string, pid: number | undefined): void {
  if (pid === undefined) return;
  const prefix = `.${path.basename(file)}.updraft-${pid}-`;
  for (const dir of [path.dirname(file), os.tmpdir()]) {
    try {
      for (const name of readdirSync(dir))
        if (name.startsWith(prefix) && name.endsWith('.mjs')) unlinkSync(path.join(dir, name));
    } catch {
      // Folder unreadable or file already gone: nothing to clean.
    }
  }
}

export interface ParsePoolOptions {
  /** Processes parsing at once (scheduler.parsing_processes). */
  size: number;
  /** Per-file limit (core.dagbag_import_timeout), ms. */
  timeoutMs: number;
  defaults: AuthoringDefaults;
  /** Recycle a worker after this many files, so imported modules do not pile up in memory. */
  filesPerWorker?: number;
  log?: Logger;
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
  files: number;
  busy: boolean;
}

/**
 * A small pool of forked parse workers. Each file is parsed in a worker that may have parsed
 * others before (a fork costs ~50 ms); a worker that times out or crashes is killed and replaced,
 * and its file gets an import error. Other files are unaffected.
 */
export class ParsePool {
  private readonly workers: Worker[] = [];
  private readonly queue: {
    file: string;
    callback?: DagCallbackCall;
    resolve: (r: ParseResponse) => void;
  }[] = [];
  private nextId = 1;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly opts: ParsePoolOptions) {
    this.log = opts.log ?? silentLogger;
  }

  /** Parse one file. After close(), resolves with `cancelled: true` instead of a result. */
  parse(file: string): Promise<ParseResponse> {
    if (this.closed) return Promise.resolve(cancelledResponse(file));
    return new Promise((resolve) => {
      this.queue.push({ file, resolve });
      this.pump();
    });
  }

  /**
   * Run a DAG-level callback in a worker (the file is imported there, never here), under the same
   * time limit as a parse. `error` says what went wrong, if anything.
   */
  runCallback(file: string, callback: DagCallbackCall): Promise<ParseResponse> {
    if (this.closed) return Promise.resolve(cancelledResponse(file));
    return new Promise((resolve) => {
      this.queue.push({ file, callback, resolve });
      this.pump();
    });
  }

  private spawn(): Worker {
    // No inherited --inspect or loaders; user output goes to the debug log, not our stdout.
    const child = fork(workerEntry(), [], { execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line.trim()) this.log.debug(`[parse-worker ${child.pid}] ${line}`);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if ((m as { ready?: boolean }).ready) {
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      child.once('exit', (code) =>
        reject(new Error(`parse worker exited during start (code ${String(code)})`)),
      );
    });
    ready.catch(() => undefined);
    const w: Worker = { child, ready, files: 0, busy: false };
    this.workers.push(w);
    return w;
  }

  private retire(w: Worker): void {
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let w = this.workers.find((x) => !x.busy);
      if (!w) {
        if (this.workers.length >= this.opts.size) return;
        w = this.spawn();
      }
      const job = this.queue.shift()!;
      w.busy = true;
      void this.run(w, job.file, job.callback).then((res) => {
        w.busy = false;
        w.files++;
        if (w.files >= (this.opts.filesPerWorker ?? 200)) this.retire(w);
        job.resolve(res);
        this.pump();
      });
    }
  }

  private async run(w: Worker, file: string, callback?: DagCallbackCall): Promise<ParseResponse> {
    const id = this.nextId++;
    const failed = (error: string): ParseResponse => ({
      id,
      file,
      sourceHash: '',
      dependencies: [],
      source: '',
      dags: [],
      error,
      durationMs: 0,
    });
    try {
      await w.ready;
    } catch (error) {
      this.retire(w);
      if (this.closed) return cancelledResponse(file);
      return failed(`Could not start a DAG parsing process: ${(error as Error).message}`);
    }
    return new Promise<ParseResponse>((resolve) => {
      let settled = false;
      const finish = (res: ParseResponse, kill: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        w.child.off('message', onMessage);
        w.child.off('exit', onExit);
        if (kill) {
          this.retire(w);
          cleanup();
        }
        resolve(res);
      };
      const onMessage = (m: unknown) => {
        const r = m as ParseResponse;
        if (r.id === id) finish(r, false);
      };
      const cleanup = () => removeBundles(file, w.child.pid);
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        if (this.closed) finish(cancelledResponse(file), false);
        else
          finish(
            failed(
              `The DAG parsing process for ${file} exited unexpectedly (code ${String(code)}, signal ${String(signal)})`,
            ),
            true,
          );
      };
      const timer = setTimeout(
        () =>
          finish(
            failed(
              `DagBag import timeout for ${file} after ${this.opts.timeoutMs / 1000}s.\nThe file took too long to load (an endless loop or blocking work at import time?).`,
            ),
            true,
          ),
        this.opts.timeoutMs,
      );
      w.child.on('message', onMessage);
      w.child.once('exit', onExit);
      const req: ParseRequest = { id, file, defaults: this.opts.defaults, ...(callback ? { callback } : {}) };
      w.child.send(req);
    });
  }

  /** Kill the workers; files being parsed or waiting resolve as cancelled. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(cancelledResponse(job.file));
    for (const w of [...this.workers]) this.retire(w);
  }
}
