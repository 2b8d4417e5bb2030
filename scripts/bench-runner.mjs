#!/usr/bin/env node
/**
 * The task runner's own cost per try (`node scripts/bench-runner.mjs [sqlite|mysql] [N]`, after
 * `npm run build`): N tries of the fan-out DAG's `bash -c true` tasks run one after another through
 * runTaskInstance in this one process (no scheduler, no executor, no IPC), after 100 to warm up.
 * Prints this process's CPU ms per try (user and system; `bash` itself is not included) and the
 * wall time per try. Compare with scripts/bench-fan-cpu.mjs, which measures the whole system.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => join(root, 'dist', p);
const { createContext } = await import(dist('context.js'));
const { migrateToLatest } = await import(dist('db/index.js'));
const { processDagFolderOnce } = await import(dist('dag-processing/processor.js'));
const { triggerDagRun } = await import(dist('dag-runs/index.js'));
const { silentLogger } = await import(dist('log.js'));
const { runTaskInstance } = await import(dist('task-runner/run-task-instance.js'));
const { authoringDefaultsFromConfig, setAuthoringDefaults } = await import(dist('dag/defaults.js'));
const { benchEnv, createBenchDatabase, fanDagSource } = await import('./bench-support.mjs');

const dialect = process.argv[2] ?? 'sqlite';
const N = Number(process.argv[3] ?? 500);
const WARM = 100;
if (!['sqlite', 'mysql'].includes(dialect) || !Number.isInteger(N) || N < 1 || N + WARM > 1000) {
  console.error('Usage: node scripts/bench-runner.mjs [sqlite|mysql] [N ≤ 900]');
  process.exit(2);
}
const home = mkdtempSync(join(process.env.BENCH_HOME_DIR || tmpdir(), 'updraft-bench-runner-'));
mkdirSync(join(home, 'dags'));
const fileloc = join(home, 'dags', 'bench_fan.ts');
writeFileSync(fileloc, fanDagSource(1000));
const database = await createBenchDatabase(dialect, home);
const env = benchEnv(home, database.url);
// The runner reads the environment a task process would have (bash inherits it too).
Object.assign(process.env, env);
const ctx = createContext({ env, log: silentLogger });
setAuthoringDefaults(authoringDefaultsFromConfig(ctx.config.values));
const store = await ctx.db();
try {
  await migrateToLatest(store);
  await processDagFolderOnce(ctx, { log: silentLogger });
  const run = await triggerDagRun(ctx, 'bench_fan');
  // What the scheduler does when it queues a try.
  await store.kysely
    .updateTable('task_instance')
    .set({ state: 'queued', try_number: 1 })
    .where('run_id', '=', run.run_id)
    .execute();
  const deps = {
    db: store,
    fernet: ctx.fernet,
    config: ctx.config.values,
    env: process.env,
    executorClass: 'LocalExecutor',
    ownsProcess: true,
    signal: new AbortController().signal,
    services: {},
    reuseDagModule: true,
  };
  const runOne = async (i) => {
    const taskId = 'm' + String(i).padStart(4, '0');
    const request = { dagId: 'bench_fan', runId: run.run_id, taskId, mapIndex: -1, tryNumber: 1, fileloc };
    const result = await runTaskInstance(
      { ...request, queued: { maxTries: 1, operator: 'BashOperator' } },
      deps,
    );
    if (!result.ran || result.state !== 'success') throw new Error(`${taskId}: ${JSON.stringify(result)}`);
  };
  for (let i = 0; i < WARM; i++) await runOne(i);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = WARM; i < WARM + N; i++) await runOne(i);
  const cpu = process.cpuUsage(cpu0);
  const perTry = (us) => +(us / 1000 / N).toFixed(3);
  console.log(
    JSON.stringify({
      dialect,
      tries: N,
      cpuMsPerTry: perTry(cpu.user + cpu.system),
      userMsPerTry: perTry(cpu.user),
      systemMsPerTry: perTry(cpu.system),
      wallMsPerTry: +((performance.now() - t0) / N).toFixed(3),
    }),
  );
} finally {
  await ctx.close();
  await database.drop();
  rmSync(home, { recursive: true, force: true });
}
