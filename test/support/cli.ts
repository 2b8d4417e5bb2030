import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Run the built CLI (`node bin/updraft.js`, i.e. dist/) as a user would. `npm test` builds first;
 * when running a single file, run `npm run build` before.
 */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const UPDRAFT_BIN = join(REPO_ROOT, 'bin', 'updraft.js');

export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The parent environment minus anything Airflow-ish, so tests do not see the developer's settings. */
function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('AIRFLOW') || k.startsWith('UPDRAFT')) continue;
    out[k] = v;
  }
  return out;
}

export function runUpdraft(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [UPDRAFT_BIN, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...cleanEnv(), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `updraft ${args.join(' ')} did not finish within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface AirflowHome {
  home: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A fresh, empty AIRFLOW_HOME in a temp folder; `env` points the CLI at it. */
export async function makeAirflowHome(extraEnv: Record<string, string> = {}): Promise<AirflowHome> {
  const home = await mkdtemp(join(tmpdir(), 'updraft-home-'));
  return {
    home,
    env: { AIRFLOW_HOME: home, AIRFLOW__CORE__LOAD_EXAMPLES: 'False', ...extraEnv },
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}
