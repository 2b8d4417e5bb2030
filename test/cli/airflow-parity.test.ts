import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUpdraft } from '../support/cli.js';

/** Issue 22's CLI items, through the built CLI (`npm run build` first), on SQLite. */
describe('CLI as an Airflow user uses it', () => {
  let home: string;
  let env: Record<string, string>;
  let testRunId = '';
  const cli = (...args: string[]) => runUpdraft(args, { env });

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'updraft-cli-fid-'));
    await mkdir(join(home, 'dags'));
    await writeFile(
      join(home, 'dags', 'fid.ts'),
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'fid', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'hello', bashCommand: 'echo "ts={{ ts }}"; echo second line' });
});
`,
    );
    env = { AIRFLOW_HOME: home, AIRFLOW__CORE__LOAD_EXAMPLES: 'False' };
    expect((await cli('db', 'migrate')).code).toBe(0);
    expect((await cli('dags', 'unpause', 'fid')).code).toBe(0);
  }, 60_000);
  afterAll(async () => rm(home, { recursive: true, force: true }));

  it('dags test prints its log without a blank line between lines', async () => {
    const r = await cli('dags', 'test', 'fid');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\{task\} INFO - ts=.*\n.*\{task\} INFO - second line\n/);
    expect(r.stdout).not.toMatch(/\n\s*\n/);
    testRunId = /DAG run (\S+): success/.exec(r.stdout)![1]!;
  }, 60_000);

  it('dags test stops a timed-out async task: its side effect never happens', async () => {
    const marker = join(home, 'late-write');
    await writeFile(
      join(home, 'dags', 'late.ts'),
      `import { writeFile } from 'node:fs/promises';
import { DAG, task } from 'updraft';
export const dag = new DAG({ dagId: 'late', schedule: null, startDate: '2024-01-01' }).build(() => {
  task({ taskId: 'slow', executionTimeout: 1 }, async () => {
    await new Promise((r) => setTimeout(r, 3000));
    await writeFile(${JSON.stringify(marker)}, 'written after the timeout');
  })();
});
`,
    );
    expect((await cli('dags', 'list')).code).toBe(0);
    const r = await cli('dags', 'test', 'late');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Timeout: the task ran longer than its executionTimeout of 1 s/);
    expect(r.stdout).toMatch(/DAG run \S+: failed/);
    await new Promise((done) => setTimeout(done, 4000));
    expect(existsSync(marker)).toBe(false);
  }, 60_000);

  it('tasks states-for-dag-run and tasks logs read a run', async () => {
    const states = await cli('tasks', 'states-for-dag-run', 'fid', testRunId, '-o', 'json');
    expect(states.code).toBe(0);
    expect(JSON.parse(states.stdout)).toEqual([
      expect.objectContaining({ dag_id: 'fid', task_id: 'hello', state: 'success', map_index: -1 }),
    ]);
    const logs = await cli('tasks', 'logs', 'fid', 'hello', testRunId);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/\{task\} INFO - second line/);
    const noTry = await cli('tasks', 'logs', 'fid', 'hello', testRunId, '-t', '2');
    expect(noTry.code).toBe(5);
    expect(noTry.stderr).toMatch(/has tries 1 to 1; there is no try 2/);
    expect((await cli('tasks', 'states-for-dag-run', 'fid', 'no_such_run')).code).toBe(5);
  }, 60_000);

  it('dags trigger without -e uses whole seconds; -o json prints the run', async () => {
    const r = await cli('dags', 'trigger', 'fid', '-o', 'json');
    expect(r.code).toBe(0);
    const [run] = JSON.parse(r.stdout) as { dag_run_id: string; logical_date: string; state: string }[];
    expect(run!.state).toBe('queued');
    expect(run!.logical_date).toMatch(/T\d\d:\d\d:\d\d\.000Z$/);
    expect(run!.dag_run_id).toBe(`manual__${run!.logical_date.replace('.000Z', '+00:00')}`);
  }, 60_000);

  it('dags trigger on a paused DAG says the run waits', async () => {
    expect((await cli('dags', 'pause', 'fid')).code).toBe(0);
    const r = await cli('dags', 'trigger', 'fid');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[INFO\] DAG fid is paused: its runs wait until it is unpaused/);
  }, 60_000);
});
