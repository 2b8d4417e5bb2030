import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { UPDRAFT_BIN, REPO_ROOT } from '../support/cli.js';

/** Helpers for the distributed-execution tests: worker processes (the built CLI) and waiting. */
export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export function startWorker(env: Record<string, string>, args: string[] = []): WorkerProcess {
  const child = spawn(process.execPath, [UPDRAFT_BIN, 'celery', 'worker', ...args], {
    cwd: REPO_ROOT,
    env: { ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A key prefix of its own per test, so tests never see each other's queues on the shared Redis. */
export function freshPrefix(): string {
  return `updraft_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Configuration that points a harness at the shared Redis with a fresh prefix. */
export function celeryEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor',
    AIRFLOW__CELERY__BROKER_URL: 'redis://127.0.0.1:6379/0',
    AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX: prefix,
    AIRFLOW__WEBSERVER__SECRET_KEY: 'test-secret-key',
    ...extra,
  };
}

/** Remove every key under the prefix from the shared Redis. */
export async function dropPrefix(prefix: string, url = 'redis://127.0.0.1:6379/0'): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The process and all its descendants (by parent pid), deepest first. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let children: number[] = [];
    try {
      children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(p)], { encoding: 'utf8' })
        .split('\n')
        .map((l) => Number(l.trim()))
        .filter((n) => n > 0);
    } catch {
      // no children
    }
    for (const c of children) walk(c);
    out.push(p);
  };
  walk(pid);
  return out;
}

/** kill -9 a whole host's worker: the worker and every process under it (its task processes, their commands). */
export function killHost(pid: number): number[] {
  const pids = processTree(pid);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}
