import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { taskLogPath } from '../../src/task-runner/task-log.js';
import { readRemoteTaskLog } from '../../src/worker/log-client.js';
import { startLogServer } from '../../src/worker/log-server.js';
import { checkLogToken, createLogToken, LOG_TOKEN_LIFETIME_MS } from '../../src/worker/log-token.js';
import { freePort } from './celery-support.js';

/**
 * The worker log server (a real HTTP server on a free loopback port) and its token: the webserver's
 * reader gets a remote try's log with the shared secret_key, and nothing without it. Which host a
 * try is read from: celery-try-logs.test.ts.
 */
const KEY = {
  dagId: 'd',
  runId: 'manual__2024-01-01T00:00:00+00:00',
  taskId: 't',
  mapIndex: -1,
  tryNumber: 2,
};

describe('worker log server', () => {
  let dir: string;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'updraft-logs-'));
    const file = taskLogPath(join(dir, 'worker-logs'), KEY);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, 'line one\nline two\n');
    await writeFile(join(dir, 'secret.txt'), 'not a log');
    port = await freePort();
    server = await startLogServer({
      host: '127.0.0.1',
      port,
      baseLogFolder: join(dir, 'worker-logs'),
      secretKey: 'shared-secret',
      log: silentLogger,
    });
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a try’s log to a reader holding the shared secret_key, from an offset', async () => {
    const source = { hostname: '127.0.0.1', port, secretKey: 'shared-secret' };
    const all = await readRemoteTaskLog(source, KEY);
    expect(all).toEqual({ content: 'line one\nline two\n', nextOffset: 18, exists: true });
    const rest = await readRemoteTaskLog(source, KEY, 9);
    expect(rest.content).toBe('line two\n');
  });

  it('refuses another secret_key, and a missing log is reported as missing', async () => {
    const wrong = await readRemoteTaskLog({ hostname: '127.0.0.1', port, secretKey: 'other' }, KEY);
    expect(wrong.exists).toBe(false);
    expect(wrong.content).toMatch(/refused to serve the log \(HTTP 403: forbidden: bad signature/);
    const missing = await readRemoteTaskLog(
      { hostname: '127.0.0.1', port, secretKey: 'shared-secret' },
      { ...KEY, tryNumber: 7 },
    );
    expect(missing).toMatchObject({ exists: false, content: '' });
  });

  it('refuses requests without a token, with a token for another file, and paths out of the log folder', async () => {
    const filename = 'dag_id=d/run_id=x/task_id=t/attempt=1.log';
    const get = (path: string, token?: string) =>
      fetch(
        `http://127.0.0.1:${port}/log/${encodeURIComponent(path)}`,
        token ? { headers: { authorization: token } } : {},
      );
    expect((await get(filename)).status).toBe(403);
    expect((await get(filename, createLogToken('shared-secret', 'dag_id=d/other.log'))).status).toBe(403);
    const escape = '../secret.txt';
    const refused = await get(escape, createLogToken('shared-secret', escape));
    expect(refused.status).toBe(403);
    expect(await refused.text()).not.toContain('not a log');
  });

  it('tokens expire', () => {
    const t0 = Date.now();
    const token = createLogToken('k', 'f.log', t0);
    expect(checkLogToken('k', token, 'f.log', t0 + 1000)).toBeNull();
    expect(checkLogToken('k', token, 'f.log', t0 + LOG_TOKEN_LIFETIME_MS + 1)).toMatch(/expired/);
  });
});
