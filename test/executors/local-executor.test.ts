import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutor,
  type Executor,
  type ExecutorEvent,
  type TaskInstanceKey,
} from '../../src/executors/index.js';
import type { LocalExecutor } from '../../src/executors/local-executor.js';
import { isAlive } from '../../src/worker/process-tree.js';
import { taskLogPath } from '../../src/task-runner/task-log.js';
import {
  createExecEnv,
  EXEC_DAG_FILE,
  seedDagRun,
  seedSerializedDag,
  seedTaskInstance,
  tiRow,
  waitFor,
  type ExecEnv,
} from '../support/exec-env.js';
import { createContext } from '../../src/context.js';

/**
 * The local executors with real task processes: isolation (crash, exit, OOM), timeouts that kill
 * the whole process tree, parallelism, warm-process reuse, terminate, events.
 */
const item = (key: TaskInstanceKey, executionTimeoutMs: number | null = null) => ({
  key,
  fileloc: EXEC_DAG_FILE,
  queue: 'default',
  priorityWeight: 1,
  poolSlots: 1,
  executionTimeoutMs,
});

async function untilFinished(
  executor: Executor,
  keys: TaskInstanceKey[],
  timeoutMs = 30_000,
): Promise<ExecutorEvent[]> {
  const seen: ExecutorEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  const done = () =>
    keys.every((k) =>
      seen.some((e) => e.type === 'finished' && e.key.taskId === k.taskId && e.key.runId === k.runId),
    );
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`executor events timed out; saw ${JSON.stringify(seen)}`);
    await executor.waitForEvent(1000);
    seen.push(...executor.drainEvents());
  }
  return seen;
}

describe.each(['sqlite', 'mysql', 'postgres'] as const)('LocalExecutor on %s', (dialect) => {
  let e: ExecEnv;
  let executor: LocalExecutor;
  let run = 0;
  const newRun = async (conf: Record<string, unknown> | null = null) => {
    const id = `run_${++run}`;
    await seedDagRun(e.db, id, conf, Date.UTC(2024, 0, 1) + run * 86_400_000);
    return id;
  };

  beforeAll(async () => {
    e = await createExecEnv(dialect, {
      AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
      AIRFLOW__CORE__PARALLELISM: '3',
      AIRFLOW__CORE__TASK_RUNNER_MAX_OLD_SPACE_SIZE: '96',
    });
    await seedSerializedDag(e.db);
  });
  afterEach(async () => {
    await executor?.stop(5000);
  });
  afterAll(async () => {
    await e?.cleanup();
  });

  const start = async () => {
    executor = createExecutor(e.ctx, { env: e.env }) as LocalExecutor;
    await executor.start();
    return executor;
  };

  it('runs a task in a warm child process, reports started/finished, and reuses the clean process', async () => {
    await start();
    const runId = await newRun();
    const first = await seedTaskInstance(e.db, runId, 'echo_ok');
    await executor.queue(item(first));
    const events = await untilFinished(executor, [first]);
    expect(events.map((x) => x.type)).toEqual(['started', 'finished']);
    const ti = await tiRow(e.db, runId, 'echo_ok');
    expect(ti.state).toBe('success');
    expect(ti.pid).not.toBe(process.pid);
    expect(events[0]).toMatchObject({ type: 'started', pid: ti.pid, hostname: ti.hostname });
    expect(events[1]).toMatchObject({ type: 'finished', exitCode: 0, state: 'success' });
    expect(readFileSync(taskLogPath(e.logFolder, first), 'utf8')).toContain('hello world on');

    const second = await seedTaskInstance(e.db, runId, 'quick');
    await executor.queue(item(second));
    await untilFinished(executor, [second]);
    expect((await tiRow(e.db, runId, 'quick')).pid).toBe(ti.pid);
  });

  it('does not reuse a task process whose task callback left a process running', async () => {
    await start();
    const pidfile = `${e.home}/callback-${dialect}.pid`;
    const runId = await newRun({ pidfile });
    const first = await seedTaskInstance(e.db, runId, 'callback_leaves_process');
    await executor.queue(item(first));
    await untilFinished(executor, [first]);
    const leftover = Number(readFileSync(pidfile, 'utf8').trim());
    try {
      expect((await tiRow(e.db, runId, 'callback_leaves_process')).state).toBe('success');
      const second = await seedTaskInstance(e.db, runId, 'quick');
      await executor.queue(item(second));
      await untilFinished(executor, [second]);
      expect((await tiRow(e.db, runId, 'quick')).pid).not.toBe(
        (await tiRow(e.db, runId, 'callback_leaves_process')).pid,
      );
    } finally {
      try {
        process.kill(leftover, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it("kills a process that a BashOperator's onExecuteCallback left, though the operator itself leaves none", async () => {
    await start();
    const pidfile = `${e.home}/execute-callback-${dialect}.pid`;
    const runId = await newRun({ pidfile });
    const key = await seedTaskInstance(e.db, runId, 'bash_after_callback_process');
    await executor.queue(item(key));
    await untilFinished(executor, [key]);
    const leftover = Number(readFileSync(pidfile, 'utf8').trim());
    const alive = () => {
      try {
        process.kill(leftover, 0);
        return !readFileSync(`/proc/${leftover}/stat`, 'utf8').includes(') Z ');
      } catch {
        return false;
      }
    };
    try {
      expect((await tiRow(e.db, runId, 'bash_after_callback_process')).state).toBe('success');
      for (const deadline = Date.now() + 5000; alive() && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 50));
      expect(alive()).toBe(false);
      expect(readFileSync(taskLogPath(e.logFolder, key), 'utf8')).toContain(
        'The task left processes running',
      );
    } finally {
      if (alive()) process.kill(leftover, 'SIGKILL');
    }
  });

  it('kills the whole process tree of a task that exceeds executionTimeout', async () => {
    await start();
    const pidfile = `${e.home}/sleep-${dialect}.pid`;
    const runId = await newRun({ pidfile });
    const key = await seedTaskInstance(e.db, runId, 'sleepy');
    await executor.queue(item(key, 1000));
    const sleepPid = await waitFor(
      async () => {
        try {
          const n = Number(readFileSync(pidfile, 'utf8').trim());
          return n > 0 ? n : undefined;
        } catch {
          return undefined;
        }
      },
      20_000,
      'the sleep pid file',
    );
    expect(isAlive(sleepPid)).toBe(true);
    await untilFinished(executor, [key]);
    const ti = await tiRow(e.db, runId, 'sleepy');
    expect(ti.state).toBe('failed');
    await waitFor(async () => !isAlive(sleepPid), 5000, `sleep ${sleepPid} to be gone`);
    expect(readFileSync(taskLogPath(e.logFolder, key), 'utf8')).toMatch(/timed out|Timeout/);
  });

  it('survives a task that calls process.exit: the try is recorded up_for_retry and the next task runs', async () => {
    await start();
    const runId = await newRun();
    const key = await seedTaskInstance(e.db, runId, 'exit_process', { maxTries: 1 });
    await executor.queue(item(key));
    const events = await untilFinished(executor, [key]);
    expect(events.find((x) => x.type === 'finished')).toMatchObject({ exitCode: 7 });
    const ti = await tiRow(e.db, runId, 'exit_process');
    expect(ti.state).toBe('up_for_retry');
    expect(ti.next_retry_at! - ti.end_date!).toBe(30_000);
    expect(readFileSync(taskLogPath(e.logFolder, key), 'utf8')).toContain('exited with code 7');

    const after = await seedTaskInstance(e.db, runId, 'quick');
    await executor.queue(item(after));
    await untilFinished(executor, [after]);
    expect((await tiRow(e.db, runId, 'quick')).state).toBe('success');
  });

  it('survives a task that exhausts its heap: only that process dies and the task fails', async () => {
    await start();
    const runId = await newRun();
    const key = await seedTaskInstance(e.db, runId, 'eat_memory');
    await executor.queue(item(key));
    await untilFinished(executor, [key], 60_000);
    const ti = await tiRow(e.db, runId, 'eat_memory');
    expect(ti.state).toBe('failed');
    expect(readFileSync(taskLogPath(e.logFolder, key), 'utf8')).toMatch(/SIGABRT|out of memory|code 134/);
    const after = await seedTaskInstance(e.db, runId, 'quick');
    await executor.queue(item(after));
    await untilFinished(executor, [after]);
    expect((await tiRow(e.db, runId, 'quick')).state).toBe('success');
  });

  it('runs up to core.parallelism tasks at once and no more', async () => {
    await start();
    const keys: TaskInstanceKey[] = [];
    for (let i = 0; i < 4; i++) keys.push(await seedTaskInstance(e.db, await newRun(), 'slow'));
    expect(executor.openSlots).toBe(3);
    for (const k of keys) await executor.queue(item(k));
    expect(executor.openSlots).toBe(0);
    // With every slot busy no warm spare is started: the 4th task goes to whichever process
    // finishes first, so a spare would only be forked to wait.
    await new Promise((r) => setTimeout(r, 300));
    expect(executor.processIds.length).toBeLessThanOrEqual(3);
    await untilFinished(executor, keys, 60_000);
    const rows = await Promise.all(keys.map((k) => tiRow(e.db, k.runId, 'slow')));
    const logs = keys
      .map((k, i) => {
        const path = taskLogPath(e.logFolder, k);
        return `${k.runId} ${String(rows[i]!.state)}: ${existsSync(path) ? readFileSync(path, 'utf8') : '(no log)'}`;
      })
      .join('\n');
    expect(
      rows.map((r) => r.state),
      logs,
    ).toEqual(['success', 'success', 'success', 'success']);
    // Never more than 3 at once, and they did run in parallel.
    const overlap = (t: number) => rows.filter((r) => r.start_date! <= t && t < r.end_date!).length;
    const most = Math.max(...rows.map((r) => overlap(r.start_date!)));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(2);
    // The last to start waited for a free slot: it started after another had ended.
    const byStart = [...rows].sort((a, b) => a.start_date! - b.start_date!);
    const firstEnd = Math.min(...rows.map((r) => r.end_date!));
    expect(byStart[3]!.start_date!).toBeGreaterThanOrEqual(firstEnd);
  });

  it('terminate() stops a running task and kills its processes', async () => {
    await start();
    const pidfile = `${e.home}/term-${dialect}.pid`;
    const runId = await newRun({ pidfile });
    const key = await seedTaskInstance(e.db, runId, 'long_sleep');
    await executor.queue(item(key));
    const bashPid = await waitFor(
      async () => {
        try {
          const n = Number(readFileSync(pidfile, 'utf8').trim());
          return n > 0 ? n : undefined;
        } catch {
          return undefined;
        }
      },
      20_000,
      'the bash pid file',
    );
    await executor.terminate(key);
    await waitFor(async () => !isAlive(bashPid) || undefined, 10_000, `bash ${bashPid} to be gone`);
    const events = await untilFinished(executor, [key]);
    expect(events.some((x) => x.type === 'finished')).toBe(true);
    expect((await tiRow(e.db, runId, 'long_sleep')).state).toBe('failed');
  });
});

describe('SequentialExecutor', () => {
  let e: ExecEnv;
  afterAll(async () => {
    await e?.cleanup();
  });

  it('runs one task at a time, in a task process', async () => {
    e = await createExecEnv('sqlite', {
      AIRFLOW__CORE__EXECUTOR: 'SequentialExecutor',
      AIRFLOW__CORE__PARALLELISM: '8',
    });
    await seedSerializedDag(e.db);
    const executor = createExecutor(e.ctx, { env: e.env });
    expect(executor.name).toBe('SequentialExecutor');
    await executor.start();
    try {
      expect(executor.openSlots).toBe(1);
      const keys: TaskInstanceKey[] = [];
      for (let i = 1; i <= 2; i++) {
        await seedDagRun(e.db, `seq_${i}`, null, Date.UTC(2024, 1, i));
        keys.push(await seedTaskInstance(e.db, `seq_${i}`, 'slow'));
      }
      for (const k of keys) await executor.queue(item(k));
      await untilFinished(executor, keys, 60_000);
      const [a, b] = await Promise.all(keys.map((k) => tiRow(e.db, k.runId, 'slow')));
      expect([a!.state, b!.state]).toEqual(['success', 'success']);
      expect(a!.pid).not.toBe(process.pid);
      expect(b!.start_date!).toBeGreaterThanOrEqual(a!.end_date!);
    } finally {
      await executor.stop(5000);
    }
  });
});

describe('createExecutor', () => {
  it('reports task processes that cannot start (unreachable metadata DB) instead of forking in a loop', async () => {
    const home = `${tmpdir()}/updraft-exec-baddb-${process.pid}`;
    const ctx = createContext({
      env: {
        ...process.env,
        AIRFLOW_HOME: home,
        AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: 'postgresql://postgres@127.0.0.1:1/nowhere',
      },
      onWarning: () => undefined,
    });
    const executor = createExecutor(ctx);
    await expect(executor.start()).rejects.toThrow(/task processes cannot start: .*127\.0\.0\.1:1/);
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  it('gives CeleryExecutor (and its alias RedisExecutor) the distributed executor, connecting only when started', () => {
    for (const name of ['CeleryExecutor', 'RedisExecutor']) {
      const ctx = createContext({
        env: { ...process.env, AIRFLOW_HOME: '/nonexistent-updraft', AIRFLOW__CORE__EXECUTOR: name },
        writeDefaultConfig: false,
      });
      expect(createExecutor(ctx).name).toBe('CeleryExecutor');
    }
  });
});

describe('when the scheduler process dies (kill -9)', () => {
  let e: ExecEnv;
  afterAll(async () => {
    await e?.cleanup();
  });

  it('the running task still finishes and records its state; idle task processes exit', async () => {
    e = await createExecEnv('sqlite', {
      AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
      AIRFLOW__CORE__PARALLELISM: '2',
    });
    await seedSerializedDag(e.db);
    await seedDagRun(e.db, 'crash_1');
    await seedTaskInstance(e.db, 'crash_1', 'slow');
    const { spawn } = await import('node:child_process');
    const host = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        `${import.meta.dirname}/../support/fixtures/executor-host.ts`,
        EXEC_DAG_FILE,
        'crash_1',
        'slow',
      ],
      {
        env: e.env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    host.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const pids = await waitFor(
      async () => {
        const m = /PIDS ([\d,]+)/.exec(out);
        return m ? m[1]!.split(',').map(Number) : undefined;
      },
      30_000,
      'the executor host to start the task',
    );
    await waitFor(
      async () => (await tiRow(e.db, 'crash_1', 'slow')).state === 'running' || undefined,
      10_000,
      'the task to run',
    );
    host.kill('SIGKILL');
    const done = await waitFor(
      async () => {
        const ti = await tiRow(e.db, 'crash_1', 'slow');
        return ti.state !== 'running' && ti.state !== 'queued' ? ti : undefined;
      },
      20_000,
      'the task to finish after its scheduler died',
    );
    expect(done.state).toBe('success');
    await waitFor(
      async () => pids.every((p) => !isAlive(p)) || undefined,
      10_000,
      'every task process to exit',
    );
  }, 60_000);
});
