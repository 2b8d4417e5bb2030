import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isToParent, type ToChild, type ToParent } from './ipc-protocol.js';
import type { TaskInstanceKey } from './work-item.js';

/**
 * One forked task process as the executor sees it: its lifecycle (starting → idle → busy → gone)
 * and the task it runs. Processes are forked with `detached` so each leads its own process group
 * (a kill reaches everything the task started) and so that a dying scheduler does not take a
 * running task with it (the task finishes and records its state; see task-process-main.ts).
 */
/** retiring: it finished its last task and was told to exit. */
export type TaskProcessState = 'starting' | 'idle' | 'busy' | 'retiring' | 'gone';

export interface TaskProcessOptions {
  env: NodeJS.ProcessEnv;
  maxOldSpaceSizeMb: number;
  onMessage(proc: TaskProcess, message: ToParent): void;
  onExit(proc: TaskProcess, code: number | null, signal: NodeJS.Signals | null): void;
  onOutput(proc: TaskProcess, line: string): void;
}

/** The entry file next to this one; under a TypeScript loader (tests) the .ts source runs via tsx. */
export function taskProcessEntry(): { file: string; loaderArgs: string[] } {
  const here = fileURLToPath(import.meta.url);
  const isSource = here.endsWith('.ts');
  return {
    file: join(dirname(here), isSource ? 'task-process-main.ts' : 'task-process-main.js'),
    loaderArgs: isSource ? ['--import', tsxLoader()] : [],
  };
}

/** tsx's loader as an absolute URL, so the child finds it whatever its working directory. */
function tsxLoader(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
}

export class TaskProcess {
  state: TaskProcessState = 'starting';
  /** The task it is running (busy) — also kept after `done` until the process is gone. */
  task: TaskInstanceKey | null = null;
  taskStartedAt = 0;
  /** Kills the process if its task outlives executionTimeout (the runner's own timer cannot fire in a blocked event loop). */
  watchdog: NodeJS.Timeout | null = null;
  /** Became ready (false until its `ready` message). */
  startedOk = false;
  /** The host name its runner records (from its `ready` message). */
  hostname = '';
  /** The watchdog killed it. */
  timedOut = false;
  /** The executionTimeout it was killed for, when the try's execute had started. */
  timeoutMs: number | null = null;
  /** Set when the executor asked it to stop its task. */
  terminating = false;
  /** The runner reported the try's end; a later exit is not a crash. */
  reportedDone = false;
  readonly child: ChildProcess;
  readonly pid: number;

  constructor(options: TaskProcessOptions) {
    const entry = taskProcessEntry();
    this.child = fork(entry.file, [], {
      execArgv: [...entry.loaderArgs, `--max-old-space-size=${options.maxOldSpaceSizeMb}`],
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.pid = this.child.pid ?? -1;
    this.child.on('message', (raw: unknown) => {
      if (isToParent(raw)) options.onMessage(this, raw);
    });
    this.child.on('exit', (code, signal) => {
      this.state = 'gone';
      options.onExit(this, code, signal);
    });
    this.child.on('error', () => {
      // 'exit' follows (or the fork failed, and exit reports it).
    });
    const forward = (stream: NodeJS.ReadableStream | null) => {
      let pending = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') options.onOutput(this, line);
      });
    };
    forward(this.child.stdout);
    forward(this.child.stderr);
    // An idle warm process must not keep the executor's process alive on its own.
    this.child.unref();
    (this.child as unknown as { channel?: { unref(): void } }).channel?.unref();
  }

  send(message: ToChild): boolean {
    if (this.state === 'gone' || !this.child.connected) return false;
    try {
      this.child.send(message);
      return true;
    } catch {
      return false;
    }
  }
}
