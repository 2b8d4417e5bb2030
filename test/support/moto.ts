import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A real AWS emulator for tests: moto's server (`python3 -m moto.server`), started on a free
 * loopback port and stopped by its PID. Each server holds its own in-memory state, so a test file
 * that starts its own server sees no other test's resources.
 *
 * moto 5.2.1 comes with the machines' `python3` (`MOTO_PYTHON` names another interpreter). When
 * it is missing the helper fails with that message rather than skipping (a test that silently
 * skips cannot fail) or installing it (there is no PyPI to install from).
 */
export interface MotoServer {
  /** e.g. http://127.0.0.1:41234 — pass as `endpoint` / AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Environment for a child process (a CLI) that should talk to this server with dummy credentials. */
  env(region?: string): Record<string, string>;
  stop(): Promise<void>;
}

const PYTHON = process.env.MOTO_PYTHON ?? 'python3';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}

function motoInstalled(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ['-c', 'import moto.server'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

async function ready(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

export interface StartMotoOptions {
  timeoutMs?: number;
  /**
   * Python arguments that start the server instead of `-m moto.server` (a script that adjusts
   * moto before calling moto.server.main); `-H 127.0.0.1 -p PORT` are appended.
   */
  command?: string[];
}

export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  if (!(await motoInstalled()))
    throw new Error(
      `moto is not installed for ${PYTHON}: these tests need moto[server]==5.2.1 ` +
        `(set MOTO_PYTHON to a python that has it)`,
    );
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PYTHON,
    [...(options.command ?? ['-m', 'moto.server']), '-H', '127.0.0.1', '-p', String(port)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    // Keep only the tail: moto logs every request.
    stderr = (stderr + d).slice(-4000);
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${PYTHON} ${child.spawnargs.slice(1).join(' ')}`);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      process.off('exit', killOnExit);
      resolve();
    }),
  );
  /** Signal our own child by its PID, unless it is already gone (its PID may be reused then). */
  const signal = (name: NodeJS.Signals) => {
    if (exitCode !== undefined) return;
    try {
      process.kill(pid, name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  };
  // A test process that ends without calling stop() (a crash, a missed afterAll) takes the
  // server with it instead of leaving it running.
  const killOnExit = () => signal('SIGKILL');
  process.once('exit', killOnExit);

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await ready(endpoint))) {
    if (exitCode !== undefined)
      throw new Error(`moto server exited (code ${exitCode}) before it was ready: ${stderr}`);
    if (Date.now() > deadline) {
      signal('SIGKILL');
      await exited;
      throw new Error(`moto server on port ${port} was not ready in time: ${stderr}`);
    }
    await sleep(200);
  }

  return {
    endpoint,
    port,
    pid,
    env(region = 'us-east-1') {
      return {
        AWS_ENDPOINT_URL: endpoint,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_REGION: region,
        AWS_EC2_METADATA_DISABLED: 'true',
      };
    },
    async stop() {
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
