import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAirflowHome, runUpdraft, type AirflowHome } from '../support/cli.js';

// Runs the built CLI (dist/): `npm run build` first. Examples are loaded here, as by default.

const EXAMPLE_DAGS = [
  'example_bash_operator',
  'example_branch_dop_operator_v3',
  'example_branch_operator',
  'example_complex',
  'example_dynamic_task_mapping',
  'example_external_task_marker_child',
  'example_external_task_marker_parent',
  'example_nested_branch_dag',
  'example_passing_params_via_test_command',
  'example_python_operator',
  'example_s3_glue_emr_redshift',
  'example_sensors',
  'example_short_circuit_operator',
  'example_skip_dag',
  'example_task_group',
  'example_taskflow_etl',
  'example_trigger_controller_dag',
  'example_trigger_target_dag',
  'example_xcom',
  'tutorial_control_flow',
];

describe('dags / tasks / dag-processor commands', () => {
  let h: AirflowHome;
  const run = (...args: string[]) => runUpdraft(args, { env: h.env });

  beforeAll(async () => {
    h = await makeAirflowHome({ AIRFLOW__CORE__LOAD_EXAMPLES: 'True' });
    expect((await run('db', 'migrate')).code).toBe(0);
    await mkdir(path.join(h.home, 'dags'), { recursive: true });
    await writeFile(
      path.join(h.home, 'dags', 'mine.ts'),
      `import { DAG, BashOperator } from 'updraft';\nexport const d = new DAG({ dagId: 'mine', schedule: '*/10 * * * *', defaultArgs: { owner: 'me' } });\nnew BashOperator({ taskId: 'hello', bashCommand: 'echo hi', dag: d });\n`,
    );
    await writeFile(
      path.join(h.home, 'dags', 'broken.ts'),
      `import { DAG } from 'updraft';\nthrow new Error('broken on purpose');\n`,
    );
  }, 120_000);
  afterAll(() => h?.cleanup());

  it('every example DAG loads with no import error, and `dags list -o json` shows them with the user DAG', async () => {
    const res = await run('dags', 'list', '-o', 'json');
    expect(res.code).toBe(0);
    const rows = JSON.parse(res.stdout) as {
      dag_id: string;
      fileloc: string;
      owners: string;
      is_paused: boolean;
      schedule: string;
    }[];
    expect(rows.map((r) => r.dag_id)).toEqual([...EXAMPLE_DAGS, 'mine'].sort());
    expect(rows.find((r) => r.dag_id === 'mine')).toEqual({
      dag_id: 'mine',
      fileloc: path.join(h.home, 'dags', 'mine.ts'),
      owners: 'me',
      is_paused: true,
      schedule: '*/10 * * * *',
    });

    const errors = await run('dags', 'list-import-errors', '-o', 'json');
    const errs = JSON.parse(errors.stdout) as { filepath: string; error: string }[];
    // Only the user's broken file: no example has an import error.
    expect(errs.map((e) => path.basename(e.filepath))).toEqual(['broken.ts']);
    expect(errs[0]!.error).toMatch(/Error: broken on purpose/);
  }, 120_000);

  it('list_dags (old spelling) and plain output', async () => {
    const res = await run('list_dags', '-o', 'plain', '--no-parse');
    expect(res.code).toBe(0);
    expect(
      res.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]),
    ).toContain('example_bash_operator');
  });

  it('dags show prints a text tree, DOT and Mermaid; tasks list in dependency order and as a tree', async () => {
    const text = await run('dags', 'show', 'tutorial_control_flow', '--no-parse');
    expect(text.stdout).toBe(
      [
        '<Task(EmptyOperator): first_task>',
        '    <Task(EmptyOperator): second_task>',
        '    <Task(EmptyOperator): third_task>',
        '<Task(EmptyOperator): fourth_task>',
        '    <Task(EmptyOperator): third_task>',
        '',
      ].join('\n'),
    );
    const dot = await run('dags', 'show', 'tutorial_control_flow', '--format', 'dot', '--no-parse');
    expect(dot.stdout).toContain('"first_task" -> "third_task"');
    expect(dot.stdout).toContain('"fourth_task" -> "third_task"');
    const mermaid = await run('dags', 'show', 'tutorial_control_flow', '--format', 'mermaid', '--no-parse');
    expect(mermaid.stdout.startsWith('flowchart LR')).toBe(true);

    const list = await run('tasks', 'list', 'example_taskflow_etl', '--no-parse');
    expect(list.stdout.trim().split('\n')).toEqual(['extract', 'transform', 'load']);
    const tree = await run('tasks', 'list', 'example_task_group', '--tree', '--no-parse');
    expect(tree.stdout).toContain('    <Task(EmptyOperator): section_1.task_1>');
  });

  it('dags details, unknown DAG errors, reserialize and dag-processor -n 1', async () => {
    const details = await run('dags', 'details', 'example_bash_operator', '-o', 'json', '--no-parse');
    const d = (JSON.parse(details.stdout) as Record<string, unknown>[])[0]!;
    expect(d).toMatchObject({
      dag_id: 'example_bash_operator',
      schedule_interval: '0 0 * * *',
      catchup: false,
      tags: ['example', 'example2'],
    });

    const missing = await run('dags', 'show', 'no_such_dag', '--no-parse');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/DAG 'no_such_dag' not found/);

    const re = await run('dags', 'reserialize');
    expect(re.code).toBe(0);
    expect(re.stdout).toMatch(/Reserialized 21 DAGs from 22 files \(0 changed, 1 import errors\)/);

    const proc = await run('dag-processor', '-n', '1');
    expect(proc.code).toBe(0);
    const bad = await run('dag-processor', '-n', 'zero');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--num-runs must be a positive integer/);
  }, 120_000);
});
