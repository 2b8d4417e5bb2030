import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/**
 * One `bash -c COMMAND` run, in its own process group, with stdout and stderr as streams. Two
 * ways to start one share this shape: a direct spawn from Node (below), and the resident launcher
 * (src/worker/bash-launcher.ts), which is much cheaper from a big process.
 */
export interface BashProcess {
  readonly stdout: Readable;
  readonly stderr: Readable;
  /**
   * Signal the process group (which may outlive bash itself). Before the process has started,
   * the signal is held and sent as soon as it starts.
   */
  signalGroup(signal: NodeJS.Signals): void;
  /**
   * The exit status once the process has exited and its stdout and stderr are closed (every
   * process that inherited them has exited or closed them, as with a direct spawn's `close`).
   * A process killed by a signal gives null from a direct spawn and 128 + the signal number from
   * the launcher (what bash itself reports). Rejects when the process could not be started.
   */
  readonly exited: Promise<number | null>;
}

export interface BashStartOptions {
  /** The whole environment of the process. */
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
}

/**
 * Starts `bash -c command` (see BashProcess). The task runner hands its operators a faster one
 * through TaskServices.startBash (a resident launcher, in src/worker/); without it, a command is
 * spawned directly from Node.
 */
export type BashStarter = (command: string, options: BashStartOptions) => BashProcess;

export function spawnBashDirectly(command: string, options: BashStartOptions): BashProcess {
  const child = spawn('bash', ['-c', command], {
    env: options.env,
    cwd: options.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return {
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    signalGroup(signal) {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    },
  };
}
