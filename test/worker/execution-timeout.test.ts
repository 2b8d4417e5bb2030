import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { taskLogPath } from '../../src/task-runner/task-log.js';
import { createHarness, type Harness } from '../scheduler/support/harness.js';

/**
 * Issue 22: executionTimeout stops synchronous code too. A task that blocks its event loop (a busy
 * loop, execSync) runs no timer of its own, so the timeout is enforced from the process that
 * supervises it: the try fails (and is retried per retries), its process tree is killed, and what
 * the task would have done after the timeout never happens.
 */
describe('executionTimeout on code that blocks the event loop', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await createHarness('sqlite');
    const marker = (name: string) => JSON.stringify(join(h.home, name));
    await h.writeDag(
      'blocking.ts',
      `import { writeFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { DAG, task } from 'updraft';
export const dag = new DAG({ dagId: 'blocking', schedule: null, startDate: '2024-01-01' }).build(() => {
  task({ taskId: 'busy', executionTimeout: 2, retries: 1, retryDelay: { milliseconds: 100 } }, () => {
    const until = Date.now() + 9000;
    while (Date.now() < until) { /* a synchronous loop: no timer in this process can run */ }
    writeFileSync(${marker('busy-finished')}, 'x');
  })();
  task({ taskId: 'exec_sync', executionTimeout: 2 }, () => {
    execSync('sleep 9; touch ' + ${marker('exec-sync-finished')});
  })();
});
`,
    );
    await h.parse();
    h.startScheduler();
  }, 60_000);
  afterAll(() => h?.close());

  it('fails the try, retries it, kills the process tree, and logs the timeout', async () => {
    const run = await triggerDagRun(await h.ctx.db(), 'blocking', { runId: 'r1' });
    const done = await h.waitForRun('blocking', run.run_id, 40_000);
    expect(done.state).toBe('failed');
    const tis = await h.tis('blocking', run.run_id);
    expect(tis.busy!.state).toBe('failed');
    expect(tis.busy!.try_number).toBe(2);
    expect(tis.exec_sync!.state).toBe('failed');
    const folder = h.ctx.config.values.logging.base_log_folder;
    for (const [taskId, tryNumber] of [
      ['busy', 1],
      ['busy', 2],
      ['exec_sync', 1],
    ] as const) {
      const log = readFileSync(
        taskLogPath(folder, { dagId: 'blocking', runId: run.run_id, taskId, mapIndex: -1, tryNumber }),
        'utf8',
      );
      expect(log).toMatch(/Timeout: the task ran longer than its executionTimeout of 2 s/);
    }
    // The loop and the `sleep` would have ended 9 s after they started: past that, nothing ran on.
    const lastStart = Math.max(tis.busy!.start_date!, tis.exec_sync!.start_date!);
    await new Promise((r) => setTimeout(r, Math.max(0, lastStart + 10_000 - Date.now())));
    expect(existsSync(join(h.home, 'busy-finished'))).toBe(false);
    expect(existsSync(join(h.home, 'exec-sync-finished'))).toBe(false);
  }, 90_000);
});
