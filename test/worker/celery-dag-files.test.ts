import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { taskLogPath } from '../../src/task-runner/task-log.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';
import {
  celeryEnv,
  dropPrefix,
  freshPrefix,
  startWorker,
  waitFor,
  type WorkerProcess,
} from './celery-support.js';

/**
 * A worker reads DAG files from its own dags_folder. Missing or different from what the scheduler
 * parsed: the try fails with a message naming the host and the file, and nothing stale runs.
 */
describe('DAG files on a worker', () => {
  let h: Harness;
  let worker: WorkerProcess | undefined;
  let workerDags: string;
  const prefix = freshPrefix();
  const source = (word: string) => `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'remote_file', schedule: null, startDate: '2024-01-01' }).build(() => {
  new BashOperator({ taskId: 'say', bashCommand: 'echo ${word} >> TRACE' });
});
`;
  beforeAll(async () => {
    h = await createHarness('sqlite', celeryEnv(prefix));
    workerDags = join(h.home, 'worker-dags');
    await mkdir(workerDags);
    await h.writeDag('remote.ts', source('parsed').replace('TRACE', join(h.home, 'trace')));
    await h.parse();
    worker = startWorker(
      { ...process.env, ...h.env, AIRFLOW__CORE__DAGS_FOLDER: workerDags } as Record<string, string>,
      ['--hostname', 'far-host', '--skip-serve-logs'],
    );
    h.startScheduler();
  }, 60_000);
  afterAll(async () => {
    await h?.stopScheduler().catch(() => undefined);
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    await h?.close();
    await dropPrefix(prefix);
  }, 60_000);

  const runOnce = async () => {
    const run = await triggerDagRun(await h.ctx.db(), 'remote_file');
    const done = await h.waitForRun('remote_file', run.run_id, 90_000);
    const ti = (await h.tis('remote_file', run.run_id)).say!;
    const log = await readFile(
      taskLogPath(h.ctx.config.values.logging.base_log_folder, {
        dagId: 'remote_file',
        runId: run.run_id,
        taskId: 'say',
        mapIndex: -1,
        tryNumber: ti.try_number,
      }),
      'utf8',
    ).catch(() => '');
    return { done, ti, log };
  };

  it('fails a try whose DAG file is missing on the worker, naming the host and the file', async () => {
    const { done, ti, log } = await runOnce();
    expect(done.state).toBe('failed');
    expect(ti.state).toBe('failed');
    expect(ti.hostname).toBe('far-host');
    expect(log).toContain(`DAG file ${join(workerDags, 'remote.ts')} is missing on worker far-host`);
    await waitFor(
      () => worker!.output().includes('is missing on worker far-host'),
      10_000,
      'the worker to log it',
    );
  }, 120_000);

  it('fails a try whose DAG file on the worker differs from the parsed one; runs it once the files match', async () => {
    await writeFile(join(workerDags, 'remote.ts'), source('stale').replace('TRACE', join(h.home, 'trace')));
    const stale = await runOnce();
    expect(stale.done.state).toBe('failed');
    expect(stale.log).toMatch(/remote\.ts on worker far-host differs from the one the scheduler parsed/);
    await copyFile(join(h.dagsFolder, 'remote.ts'), join(workerDags, 'remote.ts'));
    const ok = await runOnce();
    expect(ok.done.state).toBe('success');
    // Only the parsed code ever ran.
    expect((await readFile(join(h.home, 'trace'), 'utf8')).trim().split('\n')).toEqual(['parsed']);
  }, 180_000);
});
