import type { MetadataDb } from '../db/index.js';
import type { TaskInstanceState } from '../db/tables.js';
import { ConfigError, ConflictError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { recordLostTry } from '../task-runner/external-failure.js';
import type { ToParent } from './ipc-protocol.js';
import { killProcessTree, signalProcessTree } from './process-tree.js';
import { TaskProcess } from './task-process.js';
import {
  keyString,
  type TaskFinishedEvent,
  type TaskInstanceKey,
  type TaskWorkItem,
  type WorkerEvent,
} from './work-item.js';

/**
 * How long after a try's executionTimeout its process tree is killed from outside. The runner's own
 * timer fires at the timeout and normally ends the try well within this (stopping the operator,
 * recording the failure), which keeps the process for the next try.
 */
const TIMEOUT_MARGIN_MS = 2000;

/**
 * A pool of WARM task processes that run tries (TaskWorkItems): each process has already started
 * Node, loaded the runner and the DAG modules and opened the metadata DB, so a try starts with one
 * IPC message instead of a Node start. The LocalExecutor runs the scheduler's tries on one; a
 * remote worker runs the tries it takes from its queue on one. Who hands out the work (and counts
 * slots for a scheduler) is not the pool's business.
 *
 * Isolation choice: a process runs one try at a time and is reused for the next only while it is
 * clean — the try ended by itself (no timeout, no terminate), left no child processes and no stray
 * handles, its memory is well under --max-old-space-size, and it has run fewer than
 * maxTasksPerProcess tries (if set). Each try runs on its own copy of the operator, so what one try
 * sets on it never reaches the next (the DAG file's module state does last for the process with
 * core.task_runner_cache_dag_files). Anything else (a crash, an OOM, a process.exit in task code)
 * ends that process only; the pool records the lost try (up_for_retry / failed) and forks a
 * replacement. warmProcesses idle processes are kept ready, so replacing one is off the critical
 * path.
 */
export interface ProcessPoolOptions {
  /** Tries that run at once (core.parallelism, or a worker's concurrency). */
  size: number;
  /** Idle processes kept ready (never more than the free places). */
  warmProcesses: number;
  maxOldSpaceSizeMb: number;
  /** Retire a process after this many tries (0: no limit). */
  maxTasksPerProcess: number;
  baseLogFolder: string;
  /** killed_task_cleanup_time: SIGTERM → SIGKILL grace when terminating a try. */
  killGraceMs: number;
  /** Environment of the task processes (the configuration they load). */
  env: NodeJS.ProcessEnv;
  /** Recorded on the task instances as their executor (core.executor). */
  executorClass: string;
  /** Named in errors and logs. */
  name: string;
  db: () => Promise<MetadataDb>;
  log: Logger;
  /**
   * Called synchronously as tries start and end (before run()'s promise settles), in the order
   * they happen.
   */
  onEvent?: (event: WorkerEvent) => void;
  /**
   * The tries' log lines as they are written (`dags test` prints them). They travel on the IPC
   * channel, so every line of a try arrives before its `finished` event.
   */
  onLog?: (key: TaskInstanceKey, text: string) => void;
}

/** The small surface the LocalExecutor and a remote worker use. */
export interface TaskProcessPool {
  /** Start the warm processes; rejects (ConfigError) when none can start at all. */
  start(): Promise<void>;
  /**
   * Run one try: it waits inside the pool until a process is free. Resolves with how it ended
   * (never rejects once accepted); throws ConflictError when the same try is already here or the
   * pool is stopping.
   */
  run(item: TaskWorkItem): Promise<TaskFinishedEvent>;
  /** Tries waiting or running. */
  readonly active: number;
  /** The try is waiting or running here. */
  has(key: TaskInstanceKey): boolean;
  /** Stop one try: a waiting one ends at once (signal SIGTERM), a running one is aborted, then killed. */
  terminate(key: TaskInstanceKey): Promise<void>;
  /**
   * Drain: take nothing more, drop waiting tries (they resolve with ran false), let running ones
   * finish up to graceMs, then terminate and kill what is left.
   */
  stop(graceMs: number): Promise<void>;
  /** Task processes alive right now (busy or idle). */
  readonly processIds: number[];
}

interface Waiting {
  item: TaskWorkItem;
  resolve: (event: TaskFinishedEvent) => void;
}

export class ProcessPool implements TaskProcessPool {
  private readonly processes = new Set<TaskProcess>();
  private readonly waiting: Waiting[] = [];
  /** The callers of run() waiting for a running try, by keyString. */
  private readonly running = new Map<string, (event: TaskFinishedEvent) => void>();
  private started = false;
  private stopping = false;
  /** Task processes that died before saying ready, in a row; forks back off while > 0. */
  private bootFailures = 0;
  private lastFatal: string | null = null;
  /** start() is waiting for its first warm process. */
  private inStart = false;
  /** A process said, during start(), that the metadata database is unreachable. */
  private unreachableAtStart = false;
  private forkAllowedAt = 0;
  private topUpTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ProcessPoolOptions) {}

  get active(): number {
    return this.busyCount() + this.waiting.length;
  }

  get processIds(): number[] {
    return [...this.processes].filter((p) => p.state !== 'gone').map((p) => p.pid);
  }

  has(key: TaskInstanceKey): boolean {
    const k = keyString(key);
    return (
      this.waiting.some((w) => keyString(w.item.key) === k) ||
      [...this.processes].some((p) => p.task && keyString(p.task) === k && p.state === 'busy')
    );
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.topUp();
    // Wait for the first warm process so the first try does not pay for the fork; a process that
    // cannot start at all (unreachable DB, broken install) is a configuration problem to report now.
    if (this.options.warmProcesses > 0) {
      this.inStart = true;
      try {
        await this.waitUntil(
          () => this.idle().length > 0 || this.stopping || this.bootFailures > 0 || this.unreachableAtStart,
          60_000,
        );
      } finally {
        this.inStart = false;
      }
      if (this.idle().length === 0 && (this.bootFailures > 0 || this.unreachableAtStart)) {
        await this.stop(0);
        throw new ConfigError(
          `${this.options.name}: task processes cannot start: ${this.lastFatal ?? 'they exit during start-up'}`,
        );
      }
    }
  }

  run(item: TaskWorkItem): Promise<TaskFinishedEvent> {
    if (!this.started) throw new ConflictError(`${this.options.name} was not started`);
    if (this.stopping) throw new ConflictError(`${this.options.name} is stopping and takes no more tasks`);
    if (this.has(item.key)) {
      throw new ConflictError(
        `Task instance ${item.key.dagId}.${item.key.taskId} (${item.key.runId}, try ${item.key.tryNumber}) is already queued or running`,
      );
    }
    const outcome = new Promise<TaskFinishedEvent>((resolve) => this.waiting.push({ item, resolve }));
    this.dispatch();
    return outcome;
  }

  async terminate(key: TaskInstanceKey): Promise<void> {
    const k = keyString(key);
    const idx = this.waiting.findIndex((w) => keyString(w.item.key) === k);
    if (idx >= 0) {
      const [dropped] = this.waiting.splice(idx, 1);
      this.finish({ type: 'finished', key, exitCode: null, signal: 'SIGTERM' }, dropped?.resolve);
      return;
    }
    const proc = [...this.processes].find((p) => p.state === 'busy' && p.task && keyString(p.task) === k);
    // Asked again while it is already stopping (the scheduler repeats the request): nothing to add.
    if (proc && !proc.terminating)
      await this.terminateProcess(proc, 'The task was terminated by the executor');
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.topUpTimer) clearTimeout(this.topUpTimer);
    // Dropped before they started: nothing ran, nothing changed (no event: the caller stopped us).
    for (const w of this.waiting.splice(0, this.waiting.length))
      w.resolve({ type: 'finished', key: w.item.key, exitCode: null, signal: null, ran: false });
    for (const p of this.idle()) p.send({ type: 'shutdown' });
    await this.waitUntil(() => this.busyCount() === 0, graceMs);
    await Promise.all(
      [...this.processes]
        .filter((p) => p.state === 'busy')
        .map((p) => this.terminateProcess(p, 'The executor is stopping')),
    );
    for (const p of this.processes) if (p.state !== 'gone') await killProcessTree(p.pid, 1000);
    this.processes.clear();
  }

  // ---- internals ----

  private busyCount(): number {
    return [...this.processes].filter((p) => p.state === 'busy').length;
  }

  /** Idle processes, most recently used first (its caches are the warmest). */
  private idle(): TaskProcess[] {
    return [...this.processes]
      .filter((p) => p.state === 'idle')
      .sort((a, b) => b.taskStartedAt - a.taskStartedAt);
  }

  private starting(): number {
    return [...this.processes].filter((p) => p.state === 'starting').length;
  }

  /** Report an ended try: the event first (in order with the others), then run()'s promise. */
  private finish(event: TaskFinishedEvent, resolve?: (event: TaskFinishedEvent) => void): void {
    const k = keyString(event.key);
    const waiter = resolve ?? this.running.get(k);
    if (!resolve) this.running.delete(k);
    this.options.onEvent?.(event);
    waiter?.(event);
  }

  /** Hand waiting tries to idle processes; fork more when short (never above size busy). */
  private dispatch(): void {
    while (this.waiting.length > 0 && this.busyCount() < this.options.size) {
      const proc = this.idle()[0];
      if (!proc) break;
      const next = this.waiting.shift()!;
      proc.state = 'busy';
      proc.task = next.item.key;
      proc.reportedDone = false;
      proc.taskStartedAt = Date.now();
      if (
        !proc.send({
          type: 'run',
          key: next.item.key,
          fileloc: next.item.fileloc,
          queuedTi: next.item.queuedTi,
          ...(this.options.onLog ? { echo: true } : {}),
        })
      ) {
        // It died between idle and now; its exit handler cleans up. Put the try back.
        proc.task = null;
        this.waiting.unshift(next);
        proc.state = 'gone';
        this.processes.delete(proc);
        continue;
      }
      this.running.set(keyString(next.item.key), next.resolve);
      this.armWatchdog(proc, next.item);
      this.options.onEvent?.({ type: 'started', key: next.item.key, pid: proc.pid, hostname: proc.hostname });
    }
    this.topUp();
  }

  /** Keep enough processes starting/idle for the waiting work plus the warm reserve. */
  private topUp(): void {
    if (this.stopping || !this.started) return;
    const wait = this.forkAllowedAt - Date.now();
    if (wait > 0) {
      // Task processes keep dying at start (DB unreachable, broken install): retry later, not in a loop.
      this.topUpTimer ??= setTimeout(() => {
        this.topUpTimer = null;
        this.topUp();
      }, wait);
      this.topUpTimer.unref();
      return;
    }
    const busy = this.busyCount();
    // The warm reserve only covers free places: with every place busy, the next try goes to the
    // process that finishes first, so more idle processes would only be started to wait.
    const free = Math.max(0, this.options.size - busy);
    const wantedIdle = Math.min(free, this.waiting.length + this.options.warmProcesses);
    for (let i = this.idle().length + this.starting(); i < wantedIdle; i++) this.fork();
  }

  private fork(): void {
    const proc = new TaskProcess({
      env: {
        ...this.options.env,
        UPDRAFT_EXECUTOR_CLASS: this.options.executorClass,
        UPDRAFT_TASK_PROCESS_MAX_TASKS: String(this.options.maxTasksPerProcess),
        UPDRAFT_TASK_PROCESS_HEAP_MB: String(this.options.maxOldSpaceSizeMb),
      },
      maxOldSpaceSizeMb: this.options.maxOldSpaceSizeMb,
      onMessage: (p, m) => this.onMessage(p, m),
      onExit: (p, code, signal) => this.onExit(p, code, signal),
      onOutput: (p, line) => this.options.log.debug(`task process ${p.pid}: ${line}`),
    });
    this.processes.add(proc);
  }

  private onMessage(proc: TaskProcess, message: ToParent): void {
    switch (message.type) {
      case 'ready':
        this.bootFailures = 0;
        this.forkAllowedAt = 0;
        proc.startedOk = true;
        proc.hostname = message.hostname;
        if (proc.state === 'starting') proc.state = 'idle';
        if (this.stopping) proc.send({ type: 'shutdown' });
        this.dispatch();
        return;
      case 'done': {
        proc.reportedDone = true;
        this.clearWatchdog(proc);
        const finished: TaskFinishedEvent = {
          type: 'finished',
          key: message.key,
          exitCode: message.ran && message.state !== null ? 0 : 1,
          signal: null,
          state: message.state,
          ran: message.ran,
        };
        if (!message.ran)
          this.options.log.warn(
            `Task ${message.key.dagId}.${message.key.taskId} was not run: ${message.message ?? ''}`,
          );
        if (message.reusable && !proc.terminating && !this.stopping) {
          proc.state = 'idle';
          proc.task = null;
        } else {
          proc.state = 'retiring';
          proc.send({ type: 'shutdown' });
        }
        this.finish(finished);
        this.dispatch();
        return;
      }
      case 'log':
        this.options.onLog?.(message.key, message.text);
        return;
      case 'executing':
        if (
          proc.state === 'busy' &&
          !proc.reportedDone &&
          proc.task &&
          keyString(proc.task) === keyString(message.key)
        )
          this.armTimeout(proc, message.key, message.executionTimeoutMs);
        return;
      case 'waiting':
        // While the executor starts, an unreachable database is a configuration problem to report
        // (start() fails with it); later it is an outage, which the process rides out.
        if (this.inStart) {
          this.lastFatal = message.message;
          this.unreachableAtStart = true;
        }
        this.options.log.warn(`Task process ${proc.pid} waits for the metadata database: ${message.message}`);
        return;
      case 'fatal':
        this.lastFatal = message.message;
        this.options.log.error(`Task process ${proc.pid} failed: ${message.message}`);
        return;
    }
  }

  private onExit(proc: TaskProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const diedStarting = proc.startedOk === false;
    this.processes.delete(proc);
    this.clearWatchdog(proc);
    if (diedStarting && !this.stopping) {
      this.bootFailures += 1;
      const delay = Math.min(30_000, 250 * 2 ** Math.min(this.bootFailures, 7));
      this.forkAllowedAt = Date.now() + delay;
      this.options.log.error(
        `A task process exited during start-up (code ${String(code)}, signal ${String(signal)}); next start in ${delay} ms`,
      );
    }
    const key = proc.task;
    if (key && !proc.reportedDone) {
      // The process died while running a try: record the lost try, then report it.
      const why = proc.timedOut
        ? `Timeout: the task ran longer than its executionTimeout${proc.timeoutMs !== null ? ` of ${proc.timeoutMs / 1000} s` : ''} and did not stop; its process tree (pid ${proc.pid}) was killed`
        : signal
          ? `The task process (pid ${proc.pid}) was killed by ${signal}${signal === 'SIGABRT' || signal === 'SIGKILL' ? ' (out of memory or killed)' : ''}`
          : `The task process (pid ${proc.pid}) exited with code ${String(code)} before the task finished${code === 134 ? ' (JavaScript heap out of memory)' : ''}`;
      this.options.log.warn(`${key.dagId}.${key.taskId} (${key.runId}): ${why}`);
      void this.recordLost(key, why).then((state) => {
        this.finish({ type: 'finished', key, exitCode: code, signal, state, ran: true });
      });
    }
    this.dispatch();
  }

  private armWatchdog(proc: TaskProcess, item: TaskWorkItem): void {
    if (item.executionTimeoutMs === null || item.executionTimeoutMs <= 0) return;
    // The runner enforces the timeout itself; this is the backstop for a task that blocks the
    // event loop (a synchronous endless loop), where no timer inside the process can run.
    const after = item.executionTimeoutMs + Math.max(this.options.killGraceMs, 5000) + 5000;
    proc.watchdog = setTimeout(() => {
      if (proc.state !== 'busy' || proc.reportedDone) return;
      this.options.log.warn(
        `${item.key.dagId}.${item.key.taskId}: no answer ${after / 1000} s after start with executionTimeout ${item.executionTimeoutMs! / 1000} s; killing its process`,
      );
      proc.timedOut = true;
      void killProcessTree(proc.pid, 1000);
    }, after);
    proc.watchdog.unref();
  }

  /**
   * executionTimeout enforced from outside the try's event loop: the runner's own timer fails the
   * try and stops the operator when it can; when the try is still running TIMEOUT_MARGIN_MS later
   * (its code blocks the event loop, or ignores the abort), its whole process tree is killed and
   * the try recorded as timed out (failed, or up for retry).
   */
  private armTimeout(proc: TaskProcess, key: TaskInstanceKey, executionTimeoutMs: number): void {
    this.clearWatchdog(proc);
    proc.watchdog = setTimeout(() => {
      if (proc.state !== 'busy' || proc.reportedDone) return;
      this.options.log.warn(
        `${key.dagId}.${key.taskId} (${key.runId}): still running ${executionTimeoutMs / 1000} s after its execute started (executionTimeout); killing its process tree`,
      );
      proc.timedOut = true;
      proc.timeoutMs = executionTimeoutMs;
      // No SIGTERM first: its grace was the margin, and a process blocked until its child dies
      // would take the SIGTERM as an ordinary end and record the child's failure, not the timeout.
      signalProcessTree(proc.pid, 'SIGKILL');
    }, executionTimeoutMs + TIMEOUT_MARGIN_MS);
    proc.watchdog.unref();
  }

  private clearWatchdog(proc: TaskProcess): void {
    if (proc.watchdog) clearTimeout(proc.watchdog);
    proc.watchdog = null;
  }

  private async recordLost(key: TaskInstanceKey, why: string): Promise<TaskInstanceState | null> {
    try {
      const db = await this.options.db();
      return await recordLostTry(db.kysely, key, why, this.options.baseLogFolder);
    } catch (error) {
      this.options.log.error(
        `Could not record the end of ${key.dagId}.${key.taskId}: ${errorMessage(error)}`,
      );
      return null;
    }
  }

  private async terminateProcess(proc: TaskProcess, reason: string): Promise<void> {
    proc.terminating = true;
    proc.send({ type: 'terminate', reason });
    // The runner aborts the try and records its end; if it does not within the grace, kill it all.
    const settled = await this.waitUntil(
      () => proc.reportedDone || proc.state === 'gone',
      this.options.killGraceMs,
    );
    if (!settled || proc.state !== 'gone')
      await killProcessTree(proc.pid, Math.min(this.options.killGraceMs, 5000));
  }

  private async waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }
}
