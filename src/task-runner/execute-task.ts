import { TimeoutError, errorMessage } from '../errors.js';
import { isFailNow, isReschedule, isSkip, runWithContext, type TaskContext } from '../dag/execution.js';
import type { BaseOperator } from '../dag/base-operator.js';
import { killTrees, listTaskProcesses } from '../worker/process-tree.js';

/**
 * Run one operator's execute() under the runner's rules, and classify how it ended.
 * Knows nothing about the database: run-task-instance.ts turns the outcome into a state.
 */
export type ExecutionOutcome =
  | { kind: 'success'; value: unknown }
  | { kind: 'skipped'; message: string }
  | { kind: 'reschedule'; at: Date }
  /** `retryable` is false for FailTaskNow and sensor timeouts. */
  | { kind: 'failed'; error: unknown; retryable: boolean };

export interface ExecuteOptions {
  operator: BaseOperator;
  context: TaskContext;
  /** Aborting this stops the task (execution timeout, external kill). */
  controller: AbortController;
  executionTimeoutMs: number | null;
  /** How long an aborted task may take to stop on its own before its processes are killed. */
  settleGraceMs: number;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /**
   * This process exists to run the task (an executor's task process, `tasks run`): every process
   * below it belongs to the task and may be killed. False when the caller has other children
   * (a test harness, `dags test` inside a scheduler); then only the operator's own cleanup runs.
   */
  ownsProcess: boolean;
  /**
   * No user code ran in this try so far and the operator's class declares that its execute()
   * leaves no process behind (its operator hint leavesNoProcesses): the look for leftover processes
   * after a normal end is skipped.
   */
  leavesNoProcesses?: boolean;
}

export interface ExecuteResult {
  outcome: ExecutionOutcome;
  /**
   * True when the task did not stop by itself after an abort (hung JavaScript, leftover
   * processes): the process that ran it must not run another task.
   */
  tainted: boolean;
  /**
   * The task finished by itself and the check right after it found no process of it still
   * running (only when the caller owns the process). Whoever reuses the process need not look again
   * unless more user code ran since.
   */
  leftNoProcesses: boolean;
}

const SETTLED: unique symbol = Symbol('settled');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}

export function classifyError(error: unknown): ExecutionOutcome {
  if (isSkip(error)) return { kind: 'skipped', message: errorMessage(error) };
  if (isReschedule(error)) return { kind: 'reschedule', at: (error as { at: Date }).at };
  if (isFailNow(error)) return { kind: 'failed', error, retryable: false };
  return { kind: 'failed', error, retryable: true };
}

export async function executeOperator(options: ExecuteOptions): Promise<ExecuteResult> {
  const { operator, context, controller, log } = options;
  let timer: NodeJS.Timeout | undefined;
  if (options.executionTimeoutMs !== null && options.executionTimeoutMs > 0) {
    const ms = options.executionTimeoutMs;
    timer = setTimeout(() => {
      log.error(`Task timed out after ${ms / 1000} seconds (executionTimeout). Terminating.`);
      controller.abort(
        new TimeoutError(`Timeout: the task ran longer than its executionTimeout of ${ms / 1000} s`),
      );
    }, ms);
  }
  // Remember the task's processes at the moment of the abort, before the operator's own abort
  // handler (registered later, inside execute) kills its direct child: grandchildren orphaned by
  // that kill are re-parented away from us and would otherwise escape.
  let atAbort: number[] = [];
  const snapshot = () => {
    if (options.ownsProcess) atAbort = listTaskProcesses(process.pid);
  };
  controller.signal.addEventListener('abort', snapshot, { once: true });
  const killAll = async () => {
    if (!options.ownsProcess) return;
    await killTrees([...new Set([...atAbort, ...listTaskProcesses(process.pid)])], options.settleGraceMs);
  };
  // Settles with the operator's result; never rejects (the outcome carries the error).
  const running: Promise<ExecutionOutcome> = runWithContext(context, () => operator.execute(context)).then(
    (value): ExecutionOutcome => ({ kind: 'success', value }),
    (error: unknown): ExecutionOutcome =>
      classifyError(controller.signal.aborted ? (controller.signal.reason ?? error) : error),
  );
  const aborted = new Promise<typeof SETTLED>((resolve) => {
    if (controller.signal.aborted) resolve(SETTLED);
    controller.signal.addEventListener('abort', () => resolve(SETTLED), { once: true });
  });
  try {
    const first = await Promise.race([running, aborted]);
    if (first !== SETTLED) {
      // Finished by itself. Subprocesses it left running would outlive the task and leak into the
      // next task this process runs: kill them.
      const leftovers =
        options.ownsProcess && !options.leavesNoProcesses ? listTaskProcesses(process.pid) : [];
      if (leftovers.length > 0) {
        log.warn(`The task left processes running (${leftovers.join(', ')}); killing them.`);
        await killTrees(leftovers, 1000);
      }
      return {
        outcome: first,
        tainted: false,
        leftNoProcesses: options.ownsProcess && leftovers.length === 0,
      };
    }
    // Aborted: give the operator a moment to stop its own work, then kill every process it started.
    const reason = controller.signal.reason as unknown;
    const settledSoon = await Promise.race([
      running,
      sleep(Math.min(options.settleGraceMs, 1000)).then((): typeof SETTLED => SETTLED),
    ]);
    if (settledSoon !== SETTLED) {
      await killAll();
      return { outcome: abortOutcome(reason, settledSoon), tainted: false, leftNoProcesses: false };
    }
    if (options.ownsProcess && atAbort.length === 0 && listTaskProcesses(process.pid).length === 0) {
      // Only JavaScript is left running, and nothing stops it but the end of this process: waiting
      // longer would let it carry on with its side effects after the timeout. The caller records
      // the failure and discards the process (tainted).
      log.error('The task ignored the abort; this task process will be discarded.');
      return { outcome: abortOutcome(reason, null), tainted: true, leftNoProcesses: false };
    }
    log.warn('The task did not stop after the abort; killing its processes.');
    await killAll();
    const late = await Promise.race([
      running,
      sleep(options.settleGraceMs).then((): typeof SETTLED => SETTLED),
    ]);
    if (late === SETTLED) {
      log.error(
        'The task is still running after its processes were killed; this task process will be discarded.',
      );
      return { outcome: abortOutcome(reason, null), tainted: true, leftNoProcesses: false };
    }
    return { outcome: abortOutcome(reason, late), tainted: false, leftNoProcesses: false };
  } finally {
    if (timer) clearTimeout(timer);
    controller.signal.removeEventListener('abort', snapshot);
  }
}

/** An aborted task fails with the abort's reason (a TimeoutError is retryable, like Airflow). */
function abortOutcome(reason: unknown, settled: ExecutionOutcome | null): ExecutionOutcome {
  if (settled && settled.kind === 'failed')
    return { kind: 'failed', error: reason ?? settled.error, retryable: settled.retryable };
  return { kind: 'failed', error: reason ?? new Error('Task aborted'), retryable: true };
}
