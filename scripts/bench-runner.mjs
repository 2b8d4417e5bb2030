#!/usr/bin/env node
/**
 * The task runner's own cost per try (`node scripts/bench-runner.mjs [sqlite|mysql|mysql-tcp] [N]`, after
 * `npm run build`): N tries of the fan-out DAG's `bash -c true` tasks run one after another through
 * runTaskInstance in this one process (no scheduler, no executor, no IPC), after 100 to warm up.
 * Prints this process's CPU ms per try (user and system; `bash` itself is not included) and the
 * wall time per try. Compare with scripts/bench-fan-cpu.mjs, which measures the whole system.
 */
import { join } from 'node:path';
import {
  BENCH_DIALECTS,
  createBenchInstallation,
  dist,
  fanDagSource,
  triggerDagRun,
} from './bench-support.mjs';

const { runTaskInstance } = await import(dist('task-runner/run-task-instance.js'));
const { authoringDefaultsFromConfig, setAuthoringDefaults } = await import(dist('dag/defaults.js'));

const dialect = process.argv[2] ?? 'sqlite';
const N = Number(process.argv[3] ?? 500);
const WARM = 100;
if (!BENCH_DIALECTS.includes(dialect) || !Number.isInteger(N) || N < 1 || N + WARM > 1000) {
  console.error('Usage: node scripts/bench-runner.mjs [sqlite|mysql|mysql-tcp] [N ≤ 900]');
  process.exit(2);
}
const installation = await createBenchInstallation(
  dialect,
  { 'bench_fan.ts': fanDagSource(1000) },
  'updraft-bench-runner-',
);
const { ctx, env, store } = installation;
const fileloc = join(installation.home, 'dags', 'bench_fan.ts');
// The runner reads the environment a task process would have (bash inherits it too).
Object.assign(process.env, env);
setAuthoringDefaults(authoringDefaultsFromConfig(ctx.config.values));
try {
  const run = await triggerDagRun(await ctx.db(), 'bench_fan');
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
  await installation.close();
  installation.removeHome();
}
