import { BaseOperator, type BaseOperatorArgs } from '../base-operator.js';
import { SkipTask, type TaskContext } from '../execution.js';
import { isXComArg, type XComArg } from '../xcom-arg.js';
import { spawnBashDirectly, type BashStarter } from './bash-process.js';
import { declareOperatorHints } from '../operator-hints.js';

export interface BashOperatorArgs extends BaseOperatorArgs {
  /** The command, or another task's output (`make()`, `t.output`: Airflow's bash_command=make()). */
  bashCommand: string | XComArg;
  /** Replaces the environment unless appendEnv is true. */
  env?: Record<string, string>;
  appendEnv?: boolean;
  cwd?: string;
  /** Exit code that means "skipped" (default 99). */
  skipOnExitCode?: number | number[];
  /** Push the last line of stdout as the return value (default true, as Airflow). */
  doXcomPush?: boolean;
  /** Milliseconds between SIGTERM and SIGKILL when aborted. */
  killGraceMs?: number;
}

/** Runs a command with bash. Exit 0 → success, 99 → skipped, anything else → failure. */
export class BashOperator extends BaseOperator {
  static override templateFields = ['bashCommand', 'env', 'cwd'];
  bashCommand: string | XComArg;
  env: Record<string, string> | undefined;
  cwd: string | undefined;
  private readonly opts: BashOperatorArgs;

  constructor(args: BashOperatorArgs) {
    super(args);
    if (
      !isXComArg(args.bashCommand) &&
      (typeof args.bashCommand !== 'string' || args.bashCommand.trim() === '')
    ) {
      throw new Error(`Task '${this.taskId}': bashCommand must be a non-empty string or a task's output`);
    }
    this.bashCommand = args.bashCommand;
    this.env = args.env;
    this.cwd = args.cwd;
    this.opts = args;
    this.uiColor = '#f0ede4';
  }

  override async execute(context: TaskContext): Promise<string | undefined> {
    // An XComArg was resolved with the templates; what it pulled must be a command.
    const command = this.bashCommand;
    if (typeof command !== 'string' || command.trim() === '')
      throw new Error(`bashCommand must be a non-empty string; it is ${JSON.stringify(command)}`);
    const baseEnv = this.env === undefined || this.opts.appendEnv ? { ...process.env } : {};
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      ...(this.env ?? {}),
      AIRFLOW_CTX_DAG_ID: context.dag.dagId,
      AIRFLOW_CTX_TASK_ID: context.task.taskId,
      AIRFLOW_CTX_RUN_ID: context.run_id,
      AIRFLOW_CTX_EXECUTION_DATE: context.ts,
      AIRFLOW_CTX_TRY_NUMBER: String(context.ti.tryNumber),
    };
    if (!env.PATH) env.PATH = process.env.PATH ?? '/usr/bin:/bin';
    context.log.info(`Running command: ${command}`);
    const { code, lastLine } = await runBash(command, {
      env,
      cwd: this.cwd,
      signal: context.signal,
      log: context.log,
      graceMs: this.opts.killGraceMs ?? 5000,
      start: context.services.startBash,
    });
    const skipCodes = [this.opts.skipOnExitCode ?? 99].flat();
    if (code !== null && skipCodes.includes(code))
      throw new SkipTask(`Bash command returned exit code ${code}. Skipping.`);
    if (code !== 0)
      throw new Error(`Bash command failed. The command returned a non-zero exit code ${String(code)}.`);
    return this.opts.doXcomPush === false ? undefined : lastLine;
  }
}

declareOperatorHints(BashOperator, {
  // execute() reads the run and try ids, ts and the log; never the previous successful run.
  readsPreviousSuccess: false,
  // execute() returns once bash has exited and its output has closed: anything still holding the
  // output would have kept it open, and anything that let go of it was re-parented away from us
  // when its parent exited (to init: the runner is no subreaper), so a walk would find nothing.
  leavesNoProcesses: true,
});

interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
  signal: AbortSignal;
  log: TaskContext['log'];
  graceMs: number;
  /** How to start the command (the runner's TaskServices.startBash); default: a direct spawn. */
  start?: BashStarter;
}

/**
 * Run `bash -c` in its own process group (through the runner's bash launcher when it gives one),
 * stream its output into the task log, and on abort kill the whole group (TERM, then KILL after
 * the grace period) so no grandchild survives.
 */
export function runBash(
  command: string,
  o: RunOptions,
): Promise<{ code: number | null; lastLine: string | undefined }> {
  return new Promise((resolve, reject) => {
    if (o.signal.aborted)
      return reject(o.signal.reason instanceof Error ? o.signal.reason : new Error('aborted'));
    const child = (o.start ?? spawnBashDirectly)(command, { env: o.env, cwd: o.cwd });
    let lastLine: string | undefined;
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        o.log.info(line);
        if (line.trim() !== '') lastLine = line;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') o.log.info(line);
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      o.log.warn('Sending SIGTERM to the process group');
      child.signalGroup('SIGTERM');
      killTimer = setTimeout(() => child.signalGroup('SIGKILL'), o.graceMs);
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    const stopWatching = () => {
      o.signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
    };
    child.exited.then(
      (code) => {
        stopWatching();
        if (pending) {
          o.log.info(pending);
          if (pending.trim() !== '') lastLine = pending;
        }
        if (o.signal.aborted) {
          child.signalGroup('SIGKILL');
          return reject(o.signal.reason instanceof Error ? o.signal.reason : new Error('Task aborted'));
        }
        o.log.info(`Command exited with return code ${String(code)}`);
        resolve({ code, lastLine });
      },
      (error: unknown) => {
        stopWatching();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
