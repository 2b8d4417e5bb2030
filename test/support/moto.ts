import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A real AWS emulator for tests: moto's server (`python3 -m moto.server`), started on a free
 * loopback port and stopped by its PID. Each server holds its own in-memory state, so a test file
 * that starts its own server sees no other test's resources.
 *
 * moto 5.2.1 comes with the machines' `python3`. When it is missing and we are root, the helper
 * installs it with pip (`MOTO_PIP_SPEC`, default `moto[server]==5.2.1`) rather than skipping:
 * a test that silently skips cannot fail.
 */
export interface MotoServer {
  /** e.g. http://127.0.0.1:41234 — pass as `endpoint` / AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Environment for a child process (CLI) that should talk to this server with dummy credentials. */
  env(region?: string): Record<string, string>;
  /** Drop every resource (moto's reset API), keeping the server. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const PYTHON = process.env.MOTO_PYTHON ?? 'python3';

export function freePort(): Promise<number> {
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

function installMoto(): Promise<void> {
  return new Promise((resolve, reject) => {
    const spec = process.env.MOTO_PIP_SPEC ?? 'moto[server]==5.2.1';
    const child = spawn(PYTHON, ['-m', 'pip', 'install', '--quiet', spec], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`pip install ${spec} failed (exit ${code}): ${stderr}`)),
    );
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

export async function startMoto(options: { timeoutMs?: number } = {}): Promise<MotoServer> {
  if (!(await motoInstalled())) {
    if (process.getuid?.() !== 0) {
      throw new Error(`moto is not installed for ${PYTHON} and we are not root to install it`);
    }
    await installMoto();
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: false,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    // Keep only the tail: moto logs every request.
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${PYTHON} -m moto.server`);
  // A test that times out never reaches its stop(): do not leave the server behind the process.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  while (!(await ready(endpoint))) {
    if (exitCode !== undefined)
      throw new Error(`moto server exited (code ${exitCode}) before it was ready: ${stderr}`);
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
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
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
    },
    async stop() {
      if (exitCode !== undefined) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (exitCode === undefined) process.kill(pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
