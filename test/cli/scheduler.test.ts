import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUpdraft } from '../support/cli.js';

/** The scheduler-side commands through the built CLI (`npm run build` first), on SQLite. */
describe('dags / tasks / jobs commands', () => {
  let home: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runUpdraft(args, { env });

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'updraft-cli-sched-'));
    await mkdir(join(home, 'dags'));
    await writeFile(
      join(home, 'dags', 'cli_dag.ts'),
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'cli_dag', schedule: '@daily', startDate: '2024-01-01', catchup: false }).build(() => {
  const a = new BashOperator({ taskId: 'a', bashCommand: 'echo "conf={{ dag_run.conf }}"' });
  const b = new BashOperator({ taskId: 'b', bashCommand: 'exit 1' });
  a.then(b);
});
`,
    );
    await writeFile(
      join(home, 'dags', 'cli_parent.ts'),
      `import { DAG, TriggerDagRunOperator } from 'updraft';
export const dag = new DAG({ dagId: 'cli_parent', schedule: null, startDate: '2024-01-01' }).build(() => {
  new TriggerDagRunOperator({ taskId: 'kick', triggerDagId: 'cli_dag', triggerRunId: 'from_parent', conf: { by: 'parent' } });
});
`,
    );
    env = { AIRFLOW_HOME: home, AIRFLOW__CORE__LOAD_EXAMPLES: 'False' };
    expect((await cli('db', 'migrate')).code).toBe(0);
    expect((await cli('dags', 'list')).code).toBe(0);
  }, 60_000);
  afterAll(async () => rm(home, { recursive: true, force: true }));

  it('dags trigger: malformed JSON is a validation error and creates nothing', async () => {
    const bad = await cli('dags', 'trigger', 'cli_dag', '-c', '{oops');
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/conf is not valid JSON/);
    expect((await cli('dags', 'list-runs', '-d', 'cli_dag', '-o', 'json')).stdout.trim()).toBe('[]');
    const ok = await cli('dags', 'trigger', 'cli_dag', '-c', '{"k": 1}', '-r', 'run_one', '-e', '2024-03-01');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('run_one');
    const runs = JSON.parse((await cli('dags', 'list-runs', '-d', 'cli_dag', '-o', 'json')).stdout) as {
      run_id: string;
      state: string;
      execution_date: string;
    }[];
    expect(runs).toEqual([
      expect.objectContaining({
        run_id: 'run_one',
        state: 'queued',
        execution_date: '2024-03-01T00:00:00.000Z',
      }),
    ]);
    const st = await cli('dags', 'state', 'cli_dag', '2024-03-01');
    expect(st.stdout.trim()).toBe('queued, {"k":1}');
    expect((await cli('dags', 'trigger', 'cli_dag', '-r', 'run_one')).code).toBe(6);
    expect((await cli('dags', 'trigger', 'missing_dag')).code).toBe(5);
  }, 60_000);

  it('dags test runs TriggerDagRunOperator: the target DAG gets a run with the conf', async () => {
    const r = await cli('dags', 'test', 'cli_parent');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await cli('dags', 'state', 'cli_dag', 'from_parent')).stdout.trim()).toBe(
      'queued, {"by":"parent"}',
    );
  }, 60_000);

  it('dags test runs the whole DAG in process and reports the failure', async () => {
    const r = await cli('dags', 'test', 'cli_dag', '2024-02-01', '-c', '{"who": "me"}');
    expect(r.stdout).toContain('conf={"who":"me"}');
    expect(r.stdout).toMatch(/DAG run manual__2024-02-01T00:00:00\+00:00: failed/);
    expect(r.code).toBe(1);
    expect((await cli('tasks', 'state', 'cli_dag', 'a', '2024-02-01')).stdout.trim()).toBe('success');
    expect(
      (await cli('tasks', 'state', 'cli_dag', 'b', 'manual__2024-02-01T00:00:00+00:00')).stdout.trim(),
    ).toBe('failed');
    const clear = await cli(
      'tasks',
      'clear',
      'cli_dag',
      '-t',
      '^b$',
      '-s',
      '2024-02-01',
      '-e',
      '2024-02-01',
      '-f',
      '-y',
    );
    expect(clear.stdout).toContain('Cleared 1 task instance(s)');
    expect((await cli('tasks', 'state', 'cli_dag', 'b', '2024-02-01')).stdout.trim()).toBe('None');
    expect((await cli('dags', 'state', 'cli_dag', '2024-02-01')).stdout.trim()).toMatch(/^queued/);
  }, 90_000);

  it('pause / unpause, next-execution and backfill --dry-run', async () => {
    expect((await cli('dags', 'pause', 'cli_dag')).stdout).toContain('paused: True');
    const next = await cli('dags', 'next-execution', 'cli_dag', '-n', '2');
    expect(next.stdout).toContain('PAUSED');
    const dates = next.stdout.trim().split('\n').slice(1);
    expect(dates).toHaveLength(2);
    expect(Date.parse(dates[1]!) - Date.parse(dates[0]!)).toBe(86_400_000);
    expect((await cli('dags', 'unpause', 'cli_dag')).stdout).toContain('paused: False');
    const dry = await cli('dags', 'backfill', 'cli_dag', '-s', '2024-01-01', '-e', '2024-01-03', '--dry-run');
    expect(dry.stdout).toContain('3 run(s) would be created; nothing was changed.');
    expect((await cli('dags', 'backfill', 'cli_dag', '-s', '2024-01-03', '-e', '2024-01-01')).code).toBe(4);
    expect((await cli('jobs', 'check', '--job-type', 'SchedulerJob')).code).not.toBe(0);
  }, 60_000);
});
