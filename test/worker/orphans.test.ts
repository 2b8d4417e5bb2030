import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAirflowHome, runUpdraft, UPDRAFT_BIN, REPO_ROOT, type AirflowHome } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

/**
 * Processes must not outlive the process that owns them: a task's command dies with its runner
 * (kill -9 of the runner, side effects counted), and warm task processes die with a scheduler
 * killed while they are still starting.
 */

/** Pids of live processes whose environment names this AIRFLOW_HOME (ours, whatever they are). */
function processesOf(home: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (!env.split('\0').includes(`AIRFLOW_HOME=${home}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // a zombie holds nothing
      found.push({
        pid: Number(entry),
        cmd: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' '),
      });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('a task runner killed with kill -9', () => {
  let home: AirflowHome;
  beforeAll(async () => {
    home = await makeAirflowHome();
    mkdirSync(join(home.home, 'dags'));
    writeFileSync(
      join(home.home, 'dags', 'side_effect.ts'),
      `import { BashOperator, DAG } from 'updraft';
export const dag = new DAG({ dagId: 'side_effect', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({
    taskId: 'write_once',
    bashCommand: 'echo started >> ${home.home}/started; sleep 3; echo done >> ${home.home}/effects',
  });
});
`,
    );
    for (const args of [
      ['db', 'init'],
      ['dags', 'list'],
      ['dags', 'trigger', 'side_effect', '-r', 'run_1', '-e', '2024-05-06'],
    ]) {
      const result = await runUpdraft(args, { env: home.env });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
  }, 120_000);
  afterAll(async () => home?.cleanup());

  it("takes its command with it: the command's side effect never happens", async () => {
    const runner = spawn(
      process.execPath,
      [UPDRAFT_BIN, 'tasks', 'run', 'side_effect', 'write_once', 'run_1'],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, ...home.env },
        stdio: 'ignore',
      },
    );
    const exited = new Promise((resolve) => runner.on('close', resolve));
    await waitUntil(() => existsSync(join(home.home, 'started')), 60_000, 'the command to start');
    runner.kill('SIGKILL');
    await exited;
    // The command would write its effect 3 s after it started; wait well past that.
    await sleep(5_000);
    expect(existsSync(join(home.home, 'effects'))).toBe(false);
    expect(processesOf(home.home)).toEqual([]);
  }, 90_000);
});

describe('a scheduler killed with kill -9 while its task processes start', () => {
  let home: AirflowHome;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase('mysql');
    home = await makeAirflowHome({
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.url,
      AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
      AIRFLOW__CORE__TASK_RUNNER_WARM_PROCESSES: '6',
    });
    const result = await runUpdraft(['db', 'init'], { env: home.env });
    expect(result.code, result.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await home?.cleanup();
    await database?.drop();
  });

  it('leaves no process behind', async () => {
    for (const delayMs of [1_000, 1_200, 1_400, 1_700, 2_000, 2_500, 3_000]) {
      const scheduler = spawn(process.execPath, [UPDRAFT_BIN, 'scheduler'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, ...home.env },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => scheduler.on('close', resolve));
      await sleep(delayMs);
      scheduler.kill('SIGKILL');
      await exited;
      // Orphans notice within a second or so; give them a few.
      await waitUntil(() => processesOf(home.home).length === 0, 15_000, 'orphaned processes to exit').catch(
        () => undefined,
      );
      expect(processesOf(home.home), `killed after ${delayMs} ms`).toEqual([]);
    }
  }, 120_000);
});
