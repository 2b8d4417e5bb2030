import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUpdraft, UPDRAFT_BIN } from '../support/cli.js';

/** `updraft webserver` through the built CLI (run `npm run build` first when running this file alone). */
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'updraft-webcli-'));
  env = {
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
  };
  const migrated = await runUpdraft(['db', 'migrate'], { env });
  expect(migrated.code, migrated.stderr).toBe(0);
});
afterAll(async () => rm(home, { recursive: true, force: true }));

describe('updraft webserver', () => {
  it('logs the address it really listens on: 0.0.0.0 when bound to every address', async () => {
    const child = spawn(process.execPath, [UPDRAFT_BIN, 'webserver', '-p', '0', '-H', '0.0.0.0'], {
      env: { PATH: process.env.PATH!, ...env, AIRFLOW__LOGGING__LOGGING_LEVEL: 'INFO' },
    });
    let stderr = '';
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 30_000);
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
          const m = /Webserver listening on .*/.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        });
      });
      expect(line).toMatch(
        /listening on 0\.0\.0\.0:\d+ \(every address; from this host: http:\/\/127\.0\.0\.1:\d+\)/,
      );
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }, 60_000);

  it('serves /health on the given port and host, and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [UPDRAFT_BIN, 'webserver', '-p', '0', '-H', '127.0.0.1'], {
      env: { PATH: process.env.PATH!, ...env },
    });
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${stdout}`)), 30_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const m = /running at (http:\/\/\S+)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${stdout}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = (await (await fetch(`${url}/health`)).json()) as { metadatabase: { status: string } };
    expect(health.metadatabase.status).toBe('healthy');
    const login = await fetch(`${url}/login`);
    expect(login.status).toBe(200);
    expect(login.headers.get('set-cookie')).toMatch(/HttpOnly/i);
    // A second webserver on the same port fails with a clear message.
    const clash = await runUpdraft(['webserver', '-p', new URL(url).port, '-H', '127.0.0.1'], { env });
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain('already in use');
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('rejects a bad port with a usage error', async () => {
    const res = await runUpdraft(['webserver', '-p', 'eighty'], { env });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('--port');
  });
});
