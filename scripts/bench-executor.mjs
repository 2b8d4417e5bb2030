#!/usr/bin/env node
/**
 * Per-task start overhead of the local executor: median (and p95) milliseconds from queue() to the
 * moment the task's own code runs (the task returns Date.now(), stored as its XCom), with
 *   a) the LocalExecutor's warm task processes, and
 *   b) a plain `node` start per task (`updraft tasks run -i`, what a fork-per-task design costs).
 * Tasks run one after another, so this is latency, not throughput. Metadata DB: SQLite in a
 * temporary AIRFLOW_HOME. Needs `npm run build` first.  Usage: node scripts/bench-executor.mjs [N]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => join(root, 'dist', p);
const { createContext } = await import(dist('context.js'));
const { migrateToLatest } = await import(dist('db/index.js'));
const { createExecutor } = await import(dist('executors/index.js'));

const N = Number(process.argv[2] ?? 40);
const SPAWN_N = Math.max(5, Math.round(N / 4));
const home = mkdtempSync(join(tmpdir(), 'updraft-bench-exec-'));
mkdirSync(join(home, 'dags'));
const dagFile = join(home, 'dags', 'bench_exec.ts');
writeFileSync(
  dagFile,
  `import { DAG, FunctionOperator } from 'updraft';
export const dag = new DAG({ dagId: 'bench_exec', schedule: null, startDate: '2024-01-01' }).build(() => {
  new FunctionOperator({ taskId: 'stamp', fn: () => Date.now() });
});
`,
);
const env = {
  ...process.env,
  AIRFLOW_HOME: home,
  AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
  AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
  AIRFLOW__CORE__PARALLELISM: '4',
};
const ctx = createContext({ env, onWarning: () => undefined });
const store = await ctx.db();
await migrateToLatest(store);
const db = store.kysely;
// Parse the folder so the dag row exists (the CLI path looks the file up there).
spawnSync(process.execPath, [join(root, 'bin', 'updraft.js'), 'dags', 'list'], { env, stdio: 'ignore' });

let seq = 0;
async function seed(state) {
  const runId = `bench_${++seq}`;
  const now = Date.now();
  const logical = Date.UTC(2024, 0, 1) + seq * 60_000;
  await db
    .insertInto('dag_run')
    .values({
      dag_id: 'bench_exec',
      run_id: runId,
      run_type: 'manual',
      state: 'running',
      logical_date: logical,
      data_interval_start: logical,
      data_interval_end: logical,
      queued_at: now,
      start_date: now,
      end_date: null,
      external_trigger: 1,
      conf: null,
      last_scheduling_decision: null,
      creating_job_id: null,
      updated_at: now,
    })
    .execute();
  await db
    .insertInto('task_instance')
    .values({
      dag_id: 'bench_exec',
      run_id: runId,
      task_id: 'stamp',
      map_index: -1,
      state,
      try_number: state === 'queued' ? 1 : 0,
      max_tries: 0,
      start_date: null,
      end_date: null,
      duration: null,
      hostname: null,
      unixname: null,
      pid: null,
      job_id: null,
      pool: 'default_pool',
      pool_slots: 1,
      queue: 'default',
      priority_weight: 1,
      operator: 'FunctionOperator',
      queued_dttm: now,
      queued_by_job_id: null,
      next_retry_at: null,
      external_executor_id: null,
      rendered_fields: null,
      updated_at: now,
    })
    .execute();
  return runId;
}
async function executedAt(runId) {
  const row = await db
    .selectFrom('xcom')
    .select('value')
    .where('run_id', '=', runId)
    .where('key', '=', 'return_value')
    .executeTakeFirst();
  return row ? Number(JSON.parse(row.value)) : NaN;
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: q(0.5), p95: q(0.95), min: s[0], max: s[s.length - 1] };
};

// a) warm pool
const executor = createExecutor(ctx, { env });
await executor.start();
const warm = [];
const ipc = [];
for (let i = 0; i < N; i++) {
  const runId = await seed('queued');
  const key = { dagId: 'bench_exec', runId, taskId: 'stamp', mapIndex: -1, tryNumber: 1 };
  const t0 = Date.now();
  await executor.queue({
    key,
    fileloc: dagFile,
    queue: 'default',
    priorityWeight: 1,
    poolSlots: 1,
    executionTimeoutMs: null,
  });
  for (let done = false; !done;) {
    await executor.waitForEvent(5000);
    for (const e of executor.drainEvents()) {
      if (e.type === 'started') ipc.push(Date.now() - t0);
      if (e.type === 'finished' && e.key.runId === runId) done = true;
    }
  }
  warm.push((await executedAt(runId)) - t0);
}
await executor.stop(5000);

// b) a plain node start per task
const cold = [];
for (let i = 0; i < SPAWN_N; i++) {
  const runId = await seed(null);
  const t0 = Date.now();
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin', 'updraft.js'), 'tasks', 'run', 'bench_exec', 'stamp', runId, '-i'],
    { env, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`tasks run failed: ${r.stderr}`);
  cold.push((await executedAt(runId)) - t0);
}

const a = stats(warm);
const b = stats(cold);
console.log(`Per-task start overhead, queue() → task code running (SQLite, ${new Date().toISOString()}):`);
console.log(
  `  warm task processes : p50 ${a.p50} ms, p95 ${a.p95} ms (n=${a.n}, min ${a.min}, max ${a.max}); queue→started event p50 ${stats(ipc).p50} ms`,
);
console.log(
  `  plain node per task : p50 ${b.p50} ms, p95 ${b.p95} ms (n=${b.n}, min ${b.min}, max ${b.max})`,
);
console.log(`  speed-up (p50)      : ${(b.p50 / a.p50).toFixed(1)}x`);
await ctx.close();
rmSync(home, { recursive: true, force: true });
