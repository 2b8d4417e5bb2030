#!/usr/bin/env node
/**
 * Where the CPU of a fan-out goes (`node scripts/bench-fan-cpu.mjs [sqlite|mysql|mysql-tcp] [REPEAT]`, after
 * `npm run build`). Runs the 1 → 1,000 → 1 BashOperator fan-out of `npm run bench` through the
 * real scheduler and LocalExecutor (parallelism 8), once to warm up and then REPEAT times, and
 * prints CPU milliseconds per task from /proc (Linux only):
 *   - scheduler: this process (the scheduler loop and the executor);
 *   - task processes + bash: the children, read once they have all exited (warm-up included, so
 *     each task process's start is spread over every task it ran);
 *   - mariadbd: the server, when the metadata DB is MariaDB on this host;
 * and, per run, how many slots were busy on average (sum of the runners' start→end / wall) and the
 * scheduler's loops and milliseconds per loop phase (idle: waiting for an executor event).
 * Both cores busy the whole time means the wall time is CPU per task × tasks / 2.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  createBenchInstallation,
  dist,
  endOfRun,
  fanDagSource,
  silentLogger,
  triggerDagRun,
  BENCH_DIALECTS,
} from './bench-support.mjs';

const { Scheduler } = await import(dist('scheduler/scheduler.js'));

const dialect = process.argv[2] ?? 'sqlite';
const REPEAT = Number(process.argv[3] ?? 3);
if (!BENCH_DIALECTS.includes(dialect) || !Number.isInteger(REPEAT) || REPEAT < 1) {
  console.error('Usage: node scripts/bench-fan-cpu.mjs [sqlite|mysql|mysql-tcp] [REPEAT]');
  process.exit(2);
}
const FAN = 1000;
const TASKS = FAN + 2;
const CLOCK_TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime, stime, cutime, cstime of a process, in ms. */
function cpuOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const [u, s, cu, cs] = [11, 12, 13, 14].map((i) => Number(fields[i]) * CLOCK_TICK_MS);
  return { self: u + s, children: cu + cs };
}

const installation = await createBenchInstallation(
  dialect,
  { 'bench_fan.ts': fanDagSource(FAN) },
  'updraft-fan-cpu-',
);
const { ctx, env } = installation;
const db = installation.store.kysely;
let mariadbPid = null;
try {
  mariadbPid = execFileSync('pidof', ['mariadbd']).toString().trim().split(' ')[0] || null;
} catch {
  mariadbPid = null;
}

const scheduler = new Scheduler(ctx, { env, runDagProcessor: false, log: silentLogger });
const running = scheduler.run();

/** The scheduler's loop count and per-phase milliseconds since `before` (a copy of its stats). */
function schedulerDelta(before) {
  const now = structuredClone(scheduler.stats);
  const phaseMs = {};
  for (const [phase, ms] of Object.entries(now.phaseMs))
    phaseMs[phase] = Math.round(ms - before.phaseMs[phase]);
  return { loops: now.loops - before.loops, phaseMs };
}

async function runFan() {
  const stats0 = structuredClone(scheduler.stats);
  const t0 = Date.now();
  const run = await triggerDagRun(await ctx.db(), 'bench_fan');
  const wall = (await endOfRun(db, 'bench_fan', run.run_id)) - t0;
  const tis = await db
    .selectFrom('task_instance')
    .select(['start_date', 'end_date'])
    .where('dag_id', '=', 'bench_fan')
    .where('run_id', '=', run.run_id)
    .execute();
  const busy = tis.reduce((sum, t) => sum + (t.end_date - t.start_date), 0);
  return {
    wallS: wall / 1000,
    busySlots: Number((busy / wall).toFixed(2)),
    scheduler: schedulerDelta(stats0),
  };
}

try {
  const before = cpuOf('self');
  await runFan(); // warm-up: task processes start, the DAG file is evaluated
  const mid = cpuOf('self');
  const server0 = mariadbPid ? cpuOf(mariadbPid).self : 0;
  const runs = [];
  for (let i = 0; i < REPEAT; i++) runs.push(await runFan());
  const after = cpuOf('self');
  const server1 = mariadbPid ? cpuOf(mariadbPid).self : 0;
  scheduler.stop();
  await running;
  // The task processes exit with the executor; their CPU (and their bash children's) is then in ours.
  await new Promise((res) => setTimeout(res, 500));
  const end = cpuOf('self');
  const perTask = (ms, tasks) => Number((ms / tasks).toFixed(2));
  console.log(
    JSON.stringify(
      {
        dialect,
        runs,
        cpuMsPerTask: {
          scheduler: perTask(after.self - mid.self, REPEAT * TASKS),
          taskProcessesAndBash: perTask(end.children - before.children, (REPEAT + 1) * TASKS),
          mariadbd: mariadbPid && dialect !== 'sqlite' ? perTask(server1 - server0, REPEAT * TASKS) : null,
        },
      },
      null,
      2,
    ),
  );
} finally {
  await installation.close();
  installation.removeHome();
}
process.exit(0);
