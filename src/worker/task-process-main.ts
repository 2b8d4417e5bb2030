/**
 * Entry of a warm task process. The executor forks it ahead of need; it loads Node, the runner,
 * the DAG authoring modules and opens the metadata DB, then says `ready` and waits. Each `run`
 * executes one try through the task runner; the process stays for the next task only while it is
 * clean (see isStillClean). It is never the scheduler: a task that crashes this process or
 * exhausts its heap (--max-old-space-size) takes down only this process.
 */
import { getHeapStatistics } from 'node:v8';
import { createContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { retryThroughOutage } from '../db/outage-retry.js';
import { authoringDefaultsFromConfig, setAuthoringDefaults } from '../dag/defaults.js';
import { runTaskInstance, runnerHostname } from '../task-runner/run-task-instance.js';
import { listTaskProcesses } from './process-tree.js';
import { isToChild, type RunMessage, type ToParent } from './ipc-protocol.js';
import { taskTriggerService } from '../dag-runs/trigger-service.js';
import { warmBashLauncher } from './bash-starter.js';

const send = (message: ToParent): void => {
  if (process.connected) process.send?.(message);
};
/** send, resolved once the message is handed to the channel (before the process exits). */
const sendNow = (message: ToParent): Promise<void> =>
  new Promise((resolve) => {
    if (process.connected && process.send) process.send(message, () => resolve());
    else resolve();
  });

const MAX_TASKS = Number(process.env.UPDRAFT_TASK_PROCESS_MAX_TASKS ?? '0');
const HEAP_LIMIT_MB = Number(process.env.UPDRAFT_TASK_PROCESS_HEAP_MB ?? '0');

async function main(): Promise<void> {
  // Before anything slow (loading modules, opening the DB): a parent that dies while this process
  // starts must not leave it behind, holding memory and a DB connection under init. The IPC
  // channel's disconnect says so; a changed parent pid says so too when the channel lingers.
  const parentPid = process.ppid;
  let onOrphaned = (): void => process.exit(0);
  process.once('disconnect', () => onOrphaned());
  setInterval(() => {
    if (process.ppid !== parentPid) onOrphaned();
  }, 1_000).unref();
  const ctx = createContext({ env: process.env, writeDefaultConfig: false, onWarning: () => undefined });
  setAuthoringDefaults(authoringDefaultsFromConfig(ctx.config.values));
  // A process started while the database is away (a restart, a failover) waits for it, within
  // outage_retry_seconds, rather than dying: the pool would back off its next start and leave the
  // queued tries idle long after the server is back.
  const db = await retryThroughOutage(() => ctx.db(), {
    budgetMs: ctx.config.values.database.outage_retry_seconds * 1000,
    onRetry: (error, attempt) => {
      if (attempt === 1) send({ type: 'waiting', message: errorMessage(error) });
    },
  });
  // Load what every DAG file needs now, off the critical path of the first task.
  await import('../dag-processing/import-dag-file.js');
  // BashOperator commands start through a resident bash (see bash-launcher.ts); have it ready.
  void warmBashLauncher();
  const baselineHandles = activeHandleCount();
  let tasksRun = 0;
  let current: { controller: AbortController } | null = null;
  let leaving = false;

  const exitWhenIdle = async (code: number) => {
    leaving = true;
    if (current) return; // the running task finishes first (its state must be recorded)
    await ctx.close().catch(() => undefined);
    process.exit(code);
  };

  const run = async (message: RunMessage) => {
    const controller = new AbortController();
    current = { controller };
    let reusable = false;
    try {
      const result = await runTaskInstance(
        { ...message.key, fileloc: message.fileloc, queued: message.queuedTi },
        {
          db,
          fernet: ctx.fernet,
          config: ctx.config.values,
          env: process.env,
          executorClass: process.env.UPDRAFT_EXECUTOR_CLASS ?? null,
          ownsProcess: true,
          signal: controller.signal,
          services: { triggerDagRun: taskTriggerService(db) },
          reuseDagModule: ctx.config.values.core.task_runner_cache_dag_files,
          echo: message.echo ? (text) => send({ type: 'log', key: message.key, text }) : undefined,
          onExecuteStart: (executionTimeoutMs) => {
            if (executionTimeoutMs !== null && executionTimeoutMs > 0)
              send({ type: 'executing', key: message.key, executionTimeoutMs });
          },
        },
      );
      tasksRun += 1;
      if (result.ran && result.tainted) {
        // Task code that ignored its abort (a timed-out async function) still runs in this
        // process: end the process as soon as the parent has the outcome, before that code can
        // do anything more (such as write its side effect after the try was recorded failed).
        await sendNow({
          type: 'done',
          key: message.key,
          ran: true,
          state: result.state,
          message: result.error,
          reusable: false,
        });
        process.exit(0);
      }
      reusable =
        !controller.signal.aborted &&
        !(result.ran && result.tainted) &&
        isStillClean(tasksRun, baselineHandles, result.ran && result.leftNoProcesses);
      send({
        type: 'done',
        key: message.key,
        ran: result.ran,
        state: result.ran ? result.state : null,
        message: result.ran ? result.error : result.reason,
        reusable,
      });
    } catch (error) {
      send({
        type: 'done',
        key: message.key,
        ran: true,
        state: null,
        message: errorMessage(error),
        reusable: false,
      });
    } finally {
      current = null;
    }
    if (!reusable || leaving) await exitWhenIdle(0);
  };

  process.on('message', (raw: unknown) => {
    if (!isToChild(raw)) return;
    if (raw.type === 'run') {
      if (current) {
        send({ type: 'fatal', message: 'task process asked to run two tasks at once' });
        return;
      }
      void run(raw);
    } else if (raw.type === 'terminate') {
      current?.controller.abort(new Error(raw.reason));
    } else if (raw.type === 'shutdown') {
      void exitWhenIdle(0);
    }
  });
  // The executor went away (scheduler stopped or crashed): finish the running task, so its state is
  // recorded and no work is lost, then leave. An idle process leaves at once.
  onOrphaned = () => void exitWhenIdle(0);
  if (!process.connected) onOrphaned();
  process.on('SIGTERM', () => {
    current?.controller.abort(new Error('The task process received SIGTERM'));
    void exitWhenIdle(0);
  });
  send({ type: 'ready', pid: process.pid, hostname: runnerHostname(ctx.config.values) });
}

/** Open handles other than the terminal and DB pool sockets (whose number varies with load). */
function activeHandleCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'TCPSocketWrap').length;
}

/**
 * A process may run the next task only if the last one left nothing behind: no child processes
 * (the runner looked right after the task; we look again only if user code ran after that),
 * no extra open handles (timers, sockets, servers the task forgot), heap and buffers well under its
 * heap limit, and fewer tasks than the configured maximum (if any). Otherwise it exits
 * and a fresh one takes its place. A fresh process costs ~300 ms of CPU to start, so recycling
 * clean processes on a count alone would cost a busy executor more than the tasks themselves.
 */
function isStillClean(tasksRun: number, baselineHandles: number, processesChecked: boolean): boolean {
  if (MAX_TASKS > 0 && tasksRun >= MAX_TASKS) return false;
  // The runner's own look after the task found none, and no user code ran since: no second walk.
  if (!processesChecked && listTaskProcesses(process.pid).length > 0) return false;
  if (activeHandleCount() > baselineHandles + 2) return false;
  if (HEAP_LIMIT_MB > 0) {
    // The JS heap, or the buffers kept outside it, past half the heap limit.
    const limit = HEAP_LIMIT_MB * 1024 * 1024;
    // V8's own figures: process.memoryUsage() would also read the RSS from /proc on every task.
    const { used_heap_size: heapUsed, external_memory: external } = getHeapStatistics();
    if (heapUsed > limit * 0.5 || external > limit * 0.5) return false;
  }
  return true;
}

main().catch((error: unknown) => {
  send({ type: 'fatal', message: errorMessage(error) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
