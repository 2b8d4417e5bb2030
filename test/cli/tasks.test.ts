import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAirflowHome, runUpdraft, type AirflowHome } from '../support/cli.js';
import { EXEC_DAG_FILE } from '../support/exec-env.js';

/** `tasks run / test / render` through the built CLI (run `npm run build` first), on SQLite. */
describe('tasks run, test and render', () => {
  let home: AirflowHome;
  const cli = (...args: string[]) => runUpdraft(args, { env: home.env });

  beforeAll(async () => {
    home = await makeAirflowHome();
    mkdirSync(join(home.home, 'dags'));
    copyFileSync(EXEC_DAG_FILE, join(home.home, 'dags', 'exec_dags.ts'));
    expect((await cli('db', 'init')).code).toBe(0);
    expect((await cli('dags', 'list')).code).toBe(0);
    expect(
      (await cli('dags', 'trigger', 'exec_test', '-r', 'manual_1', '-c', '{"who":"cli"}', '-e', '2024-05-06'))
        .code,
    ).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await home?.cleanup();
  });

  it('tasks run runs the try, writes the Airflow-layout log and refuses to run a finished task again', async () => {
    const first = await cli('tasks', 'run', 'exec_test', 'echo_ok', 'manual_1');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('hello cli on 2024-05-06');
    const log = join(
      home.home,
      'logs',
      'dag_id=exec_test',
      'run_id=manual_1',
      'task_id=echo_ok',
      'attempt=1.log',
    );
    expect(readFileSync(log, 'utf8')).toContain('Marking task as SUCCESS');

    const again = await cli('tasks', 'run', 'exec_test', 'echo_ok', 'manual_1');
    expect(again.code).toBe(6);
    expect(again.stderr).toContain("'success' state");

    // -i forces a new try, found by logical date this time.
    const forced = await cli('tasks', 'run', 'exec_test', 'echo_ok', '2024-05-06', '-i');
    expect(forced.code, forced.stderr).toBe(0);
    expect(existsSync(log.replace('attempt=1', 'attempt=2'))).toBe(true);
  });

  it('tasks run exits 1 when the task fails and refuses unmet upstream tasks without -i', async () => {
    const failed = await cli('tasks', 'run', 'exec_test', 'fail_now', 'manual_1');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('ended: failed');
    const blocked = await cli('tasks', 'run', 'exec_test', 'pull', 'manual_1');
    expect(blocked.code).toBe(6);
    expect(blocked.stderr).toContain('Upstream task(s) push');
    const missing = await cli('tasks', 'run', 'exec_test', 'echo_ok', 'no_such_run');
    expect(missing.code).toBe(5);
  });

  it('tasks test runs without recording and prints the log; tasks render prints rendered fields', async () => {
    const test = await cli('tasks', 'test', 'exec_test', 'echo_ok', '2024-03-04', '-t', '{"who":"tester"}');
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toContain('hello tester on 2024-03-04');
    expect(test.stdout).toContain('test mode: not recorded');
    // Nothing recorded: no log folder for the made-up run of the test.
    expect(readdirSync(join(home.home, 'logs', 'dag_id=exec_test'))).toEqual(['run_id=manual_1']);

    const render = await cli('tasks', 'render', 'exec_test', 'echo_ok', 'manual_1');
    expect(render.code, render.stderr).toBe(0);
    expect(render.stdout).toContain('# property: bashCommand');
    expect(render.stdout).toContain('echo "hello cli on 2024-05-06"');

    const bad = await cli('tasks', 'test', 'exec_test', 'echo_ok', 'not-a-date');
    expect(bad.code).toBe(4);
  });
});
