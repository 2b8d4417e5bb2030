import type { BashProcess, BashStartOptions } from '../dag/operators/bash-process.js';
import { spawnBashDirectly } from '../dag/operators/bash-process.js';
import { BashLauncher, type LaunchMode } from './bash-launcher.js';

export { bashLauncherPids } from './bash-launcher.js';

/**
 * How this process starts BashOperator commands: through its resident bash launcher
 * (bash-launcher.ts) when it can, otherwise with a direct spawn. The task runner gives startBash to
 * operators as TaskServices.startBash, so the authoring package never imports this runtime code.
 */
let launcher: BashLauncher | null = null;
/** Started when the current launcher takes its last slot, so that it is ready when needed. */
let successor: BashLauncher | null = null;
/** Set when a launcher died before it was ever ready: this process spawns directly from then on. */
let launcherUnusable = process.platform !== 'linux' || process.env.UPDRAFT_BASH_LAUNCHER === '0';
/** UPDRAFT_BASH_LAUNCHER=exec: each job execs a fresh `bash -c` instead of being a fork of the launcher. */
const launchMode: LaunchMode = process.env.UPDRAFT_BASH_LAUNCHER === 'exec' ? 'exec' : 'fork';
/**
 * A process that has not warmed a launcher spawns its first command directly and starts one only
 * for the second: a CLI that runs one command (`tasks test`) does not pay for a launcher.
 */
let commandsStarted = 0;

function currentLauncher(): BashLauncher | null {
  if (launcherUnusable) return null;
  if (launcher?.neverWorked() || successor?.neverWorked()) {
    launcherUnusable = true;
    return null;
  }
  if (launcher === null || launcher.isSpent()) {
    launcher = successor ?? BashLauncher.start(launchMode);
    successor = null;
  }
  return launcher;
}

/**
 * Start this process's launcher ahead of its first command (a task process does this while it
 * waits for work). Resolves once the launcher is ready, or has failed and will not be used.
 */
export async function warmBashLauncher(): Promise<void> {
  await currentLauncher()?.whenSettled();
}

/**
 * Start `bash -c command`: through this process's launcher when it is ready and can take the
 * job, otherwise (the process's first command, a launcher still starting, another command of
 * this process running, an environment the launcher cannot pass on, not Linux, or
 * UPDRAFT_BASH_LAUNCHER=0) with a direct spawn.
 */
export function startBash(command: string, options: BashStartOptions): BashProcess {
  commandsStarted += 1;
  if (launcher === null && commandsStarted === 1) return spawnBashDirectly(command, options);
  // The launcher's requests are NUL-separated; Node itself rejects a NUL in a direct spawn.
  if (command.includes('\0') || options.cwd?.includes('\0')) return spawnBashDirectly(command, options);
  const current = currentLauncher();
  if (current?.canLaunch(options.env)) {
    const started = current.launch(command, options);
    if (!current.hasSlotsLeft()) successor = BashLauncher.start(launchMode);
    return started;
  }
  return spawnBashDirectly(command, options);
}
