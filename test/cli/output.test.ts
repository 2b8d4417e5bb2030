import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUpdraft } from '../support/cli.js';

/**
 * `-o json` (and its `--json` shorthand) on the commands that print a record or records beyond
 * the listing commands: stdout must be JSON a script can parse, whatever else the command says.
 * Through the built CLI (`npm run build` first), on SQLite.
 */
describe('-o json on every command that prints records', () => {
  let home: string;
  let env: Record<string, string>;
  let runId = '';
  const cli = (...args: string[]) => runUpdraft(args, { env });
  /** Run, expect exit 0, and parse stdout as JSON. */
  const json = async (...args: string[]): Promise<Record<string, unknown>[]> => {
    const r = await cli(...args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>[];
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'updraft-cli-output-'));
    await mkdir(join(home, 'dags'));
    await writeFile(
      join(home, 'dags', 'out.ts'),
      `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'out', schedule: '@daily', startDate: '2024-01-01', catchup: false }).build(() => {
  const a = new BashOperator({ taskId: 'a', bashCommand: 'echo one' });
  const b = new BashOperator({ taskId: 'b', bashCommand: 'echo two' });
  a.then(b);
});
`,
    );
    env = { AIRFLOW_HOME: home, AIRFLOW__CORE__LOAD_EXAMPLES: 'False' };
    expect((await cli('db', 'migrate')).code).toBe(0);
    expect((await cli('dags', 'list')).code).toBe(0);
  }, 60_000);
  afterAll(async () => rm(home, { recursive: true, force: true }));

  it('dags test -o json prints only the task states on stdout (the log goes to stderr)', async () => {
    const r = await cli('dags', 'test', 'out', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const tis = JSON.parse(r.stdout) as { task_id: string; state: string }[];
    expect(tis.map((t) => [t.task_id, t.state])).toEqual([
      ['a', 'success'],
      ['b', 'success'],
    ]);
    expect(r.stderr).toMatch(/INFO - one/);
    runId = /DAG run (\S+): success/.exec(r.stderr)![1]!;
  }, 60_000);

  it('dags trigger, dags state and dags next-execution', async () => {
    const [run] = await json('dags', 'trigger', 'out', '--json');
    expect(run).toMatchObject({ dag_id: 'out', state: 'queued' });
    const [state] = await json('dags', 'state', 'out', runId, '-o', 'json');
    expect(state).toMatchObject({ dag_id: 'out', dag_run_id: runId, state: 'success' });
    const next = await json('dags', 'next-execution', 'out', '-n', '2', '-o', 'json');
    expect(next).toHaveLength(2);
    expect(next[0]!['logical_date']).toMatch(/^\d{4}-\d\d-\d\dT00:00:00\.000Z$/);
    // Without -o, Airflow's plain output stays.
    expect((await cli('dags', 'state', 'out', runId)).stdout.trim()).toBe('success');
  }, 60_000);

  it('dags backfill', async () => {
    const dry = await json(
      'dags',
      'backfill',
      'out',
      '-s',
      '2024-02-01',
      '-e',
      '2024-02-02',
      '--dry-run',
      '-o',
      'json',
    );
    expect(dry.map((r) => r['outcome'])).toEqual(['would_create', 'would_create']);
    const made = await json('dags', 'backfill', 'out', '-s', '2024-02-01', '-e', '2024-02-02', '-o', 'json');
    expect(made.map((r) => r['outcome'])).toEqual(['created', 'created']);
    expect(made[0]!['run_id']).toMatch(/^backfill__2024-02-01/);
  }, 60_000);

  it('tasks list and tasks state', async () => {
    const tasks = await json('tasks', 'list', 'out', '--no-parse', '-o', 'json');
    expect(tasks.map((t) => [t['task_id'], t['upstream']])).toEqual([
      ['a', []],
      ['b', ['a']],
    ]);
    expect((await cli('tasks', 'list', 'out', '--no-parse')).stdout).toBe('a\nb\n');
    const [ti] = await json('tasks', 'state', 'out', 'b', runId, '--json');
    expect(ti).toMatchObject({ dag_id: 'out', task_id: 'b', run_id: runId, map_index: -1, state: 'success' });
  }, 60_000);

  it('pools import and pools delete', async () => {
    const file = join(home, 'pools.json');
    await writeFile(file, JSON.stringify({ p1: { slots: 3, description: 'one' } }));
    expect(await json('pools', 'import', file, '-o', 'json')).toEqual([
      { pool: 'p1', slots: 3, description: 'one', include_deferred: false },
    ]);
    expect(await json('pools', 'delete', 'p1', '-o', 'json')).toEqual([
      { pool: 'p1', slots: 3, description: 'one', include_deferred: false },
    ]);
    expect((await cli('pools', 'get', 'p1')).code).toBe(5);
  }, 60_000);

  it('jobs check', async () => {
    const db = new Database(join(home, 'airflow.db'));
    try {
      db.prepare(
        `INSERT INTO job (dag_id, state, job_type, start_date, end_date, latest_heartbeat, executor_class, hostname, unixname, pid)
         VALUES (NULL, 'running', 'SchedulerJob', ?, NULL, ?, NULL, 'box', 'me', 1)`,
      ).run(Date.now(), Date.now());
    } finally {
      db.close();
    }
    const [job] = await json('jobs', 'check', '-o', 'json');
    expect(job).toMatchObject({ job_type: 'SchedulerJob', hostname: 'box' });
    expect(new Date(String(job!['latest_heartbeat'])).getTime()).toBeGreaterThan(Date.now() - 60_000);
  }, 60_000);
});
