import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, UPDRAFT_BIN, runUpdraft } from '../support/cli.js';

/** `updraft standalone` as a user runs it (built CLI): DB, admin user, scheduler + webserver, clean stop. */
describe('standalone', () => {
  let home: string | undefined;
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('migrates, creates admin once, serves /health with a live scheduler, runs an example DAG and stops on SIGTERM', async () => {
    home = await mkdtemp(join(tmpdir(), 'updraft-standalone-'));
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      AIRFLOW_HOME: home,
      AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL: '2',
    };
    for (const k of Object.keys(env))
      if (k.startsWith('AIRFLOW__') && k !== 'AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL') delete env[k];
    const child = spawn(process.execPath, [UPDRAFT_BIN, 'standalone', '--port', '0'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/Webserver running at (\S+)/.test(out) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const url = /Webserver running at (\S+)/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      // With no executor configured, standalone runs tasks in parallel.
      expect(out).toContain('standalone | Executor: LocalExecutor');
      const password = /password: (\S+)/.exec(out)?.[1];
      const file = join(home, 'standalone_admin_password.txt');
      expect((await readFile(file, 'utf8')).trim()).toBe(password);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      let health: { scheduler: { status: string | null } } | undefined;
      while (Date.now() < deadline) {
        health = (await (await fetch(`${url}/health`)).json()) as typeof health;
        if (health?.scheduler.status === 'healthy') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(health?.scheduler.status).toBe('healthy');
      // The bundled examples are loaded: trigger one and let the scheduler run it.
      const env2 = { AIRFLOW_HOME: home };
      let trig = await runUpdraft(['dags', 'trigger', 'example_bash_operator', '-r', 'from_test'], {
        env: env2,
      });
      for (let i = 0; i < 20 && trig.code === 5; i++) {
        await new Promise((r) => setTimeout(r, 500));
        trig = await runUpdraft(['dags', 'trigger', 'example_bash_operator', '-r', 'from_test'], {
          env: env2,
        });
      }
      expect(trig.code, trig.stderr).toBe(0);
      // Examples start paused, and (as in Airflow) a paused DAG's runs wait until it is unpaused.
      expect(trig.stdout).toContain('is paused');
      const unpause = await runUpdraft(['dags', 'unpause', 'example_bash_operator'], { env: env2 });
      expect(unpause.code, unpause.stderr).toBe(0);
      let state = '';
      while (Date.now() < deadline + 30_000 && !['success', 'failed'].includes(state)) {
        state = (
          await runUpdraft(['dags', 'state', 'example_bash_operator', 'from_test'], { env: env2 })
        ).stdout.trim();
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(state).toBe('success');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('standalone | Stopped');
    // A second start keeps the existing admin and prints no new password.
    const again = await runUpdraft(['users', 'list', '-o', 'json'], { env: { AIRFLOW_HOME: home } });
    expect(JSON.parse(again.stdout).filter((u: { username: string }) => u.username === 'admin')).toHaveLength(
      1,
    );
  }, 120_000);
});
