#!/usr/bin/env node
/**
 * Scheduler benchmark (`npm run bench`): end-to-end DAG runs through the real scheduler, the real
 * LocalExecutor (parallelism 8) and real task runners, with SQLite and with the local MariaDB as
 * metadata DB, the latter through its Unix socket (as a single-host install connects) and over TCP:
 *   - chain: 100 BashOperator tasks `true` in a line → total time, per-hop latency p50/p95
 *     (hop = next task's start_date − previous task's end_date, both written by the runners);
 *   - fan: 1 → 1,000 → 1 BashOperator tasks `true` → tasks per second end to end;
 * and the same two shapes with BullMQ's FlowProducer on the local Redis (one Worker, concurrency
 * 8, each job runs `bash -c true`) as the peer, in the same process run; then, per database, the
 * CeleryExecutor with one worker process (`updraft celery worker -c 8`) on a private redis-server of
 * this host, with Redis commands per task (INFO commandstats) and the worker's RSS (BENCH_NO_CELERY=1
 * skips those cases). Each case runs REPEAT
 * times; the table shows medians and the ratio to BullMQ.
 * Needs `npm run build` first (npm run bench does it).
 * Usage: node scripts/bench.mjs [REPEAT] [sqlite,mysql,mysql-tcp]
 * The installations live in BENCH_HOME_DIR (default: the OS temp folder); their task logs are
 * real files there, so the figures include that disk's file creation.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  chainDagSource,
  CONCURRENCY,
  BENCH_DIALECTS,
  benchDialectLabel,
  createBenchInstallation,
  dist,
  endOfRun,
  fanDagSource,
  silentLogger,
  triggerDagRun,
} from './bench-support.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { Scheduler } = await import(dist('scheduler/scheduler.js'));

const REPEAT = Number(process.argv[2] ?? 3);
const DIALECTS = (process.argv[3] ?? BENCH_DIALECTS.join(',')).split(',');
if (!Number.isInteger(REPEAT) || REPEAT < 1 || !DIALECTS.every((d) => BENCH_DIALECTS.includes(d))) {
  console.error(
    `Usage: node scripts/bench.mjs [REPEAT ≥ 1] [${BENCH_DIALECTS.join(',')}] (got ${process.argv.slice(2).join(' ')})`,
  );
  process.exit(2);
}
// BENCH_CHAIN / BENCH_FAN shrink the shapes for a quick check of the script itself.
const CHAIN = Number(process.env.BENCH_CHAIN ?? 100);
const FAN = Number(process.env.BENCH_FAN ?? 1000);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => pct(xs, 50);

/**
 * Temporary homes are removed when the whole benchmark is done, not after each case. On an ext4
 * without a journal (this VM's disk), creating a file within about a minute of deleting thousands
 * costs up to ~1 ms more per file (the allocator steps over each recently freed inode), so deleting
 * one case's 3,000 log files would slow the next case's task runners.
 */
const installations = [];
process.on('exit', () => {
  for (const installation of installations) installation.removeHome();
});

async function benchUpdraft(dialect, celery = null) {
  const installation = await createBenchInstallation(
    dialect,
    {
      'bench_chain.ts': chainDagSource(CHAIN),
      'bench_fan.ts': fanDagSource(FAN),
    },
    'updraft-bench-',
    celery ? celeryBenchEnv(celery) : {},
  );
  installations.push(installation);
  const { ctx, env } = installation;
  const db = installation.store.kysely;
  const worker = celery ? await startBenchWorker(env, db) : null;
  const commandsBefore = celery ? await redisCommandCount(celery.port) : 0;
  const scheduler = new Scheduler(ctx, { env, runDagProcessor: false, log: silentLogger });
  const running = scheduler.run();
  const results = { chain: [], fan: [] };
  async function runOnce(dagId) {
    if (process.env.BENCH_VERBOSE) console.error(`${dialect}: running ${dagId}`);
    const t0 = Date.now();
    const run = await triggerDagRun(installation.store, dagId);
    const wall = ((await endOfRun(db, dagId, run.run_id)) - t0) / 1000;
    const tis = await db
      .selectFrom('task_instance')
      .select(['task_id', 'start_date', 'end_date'])
      .where('dag_id', '=', dagId)
      .where('run_id', '=', run.run_id)
      .orderBy('task_id')
      .execute();
    return { wall, tis };
  }
  try {
    for (let i = 0; i < REPEAT; i++) {
      const c = await runOnce('bench_chain');
      const hops = [];
      for (let k = 1; k < c.tis.length; k++) hops.push(c.tis[k].start_date - c.tis[k - 1].end_date);
      const taskMs = c.tis.map((t) => t.end_date - t.start_date);
      results.chain.push({ total: c.wall, p50: pct(hops, 50), p95: pct(hops, 95), taskMs: median(taskMs) });
      const f = await runOnce('bench_fan');
      results.fan.push({ total: f.wall, tps: (FAN + 2) / f.wall });
    }
    if (worker) {
      results.redisCommands = (await redisCommandCount(celery.port)) - commandsBefore;
      results.tasks = REPEAT * (CHAIN + FAN + 2);
      results.rss = worker.rss();
    }
  } finally {
    scheduler.stop();
    const stats = await running;
    await worker?.stop();
    if (process.env.BENCH_VERBOSE)
      console.error(
        dialect,
        JSON.stringify({
          loops: stats.loops,
          phaseMs: Object.fromEntries(Object.entries(stats.phaseMs).map(([k, v]) => [k, Math.round(v)])),
          chain: results.chain,
          fan: results.fan,
        }),
      );
    await installation.close();
  }
  return results;
}

/** The BullMQ peer runs in its own process (scripts/bench-bullmq.mjs), apart from Updraft's modules. */
async function benchBullmq() {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      join(root, 'scripts', 'bench-bullmq.mjs'),
      String(REPEAT),
      String(CHAIN),
      String(FAN),
      String(CONCURRENCY),
    ],
    {
      maxBuffer: 1 << 20,
      timeout: 600_000,
    },
  );
  return JSON.parse(stdout);
}

/**
 * CeleryExecutor cases: Redis on this host, a private redis-server on a port of its own (started
 * here) so that INFO commandstats counts this case's commands only; one worker process
 * (`updraft celery worker -c 8`) with the same warm process count as the LocalExecutor cases.
 */
function celeryBenchEnv(celery) {
  return {
    AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor',
    AIRFLOW__CELERY__BROKER_URL: `redis://127.0.0.1:${celery.port}/0`,
    AIRFLOW__CELERY__WORKER_CONCURRENCY: String(CONCURRENCY),
    AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX: `bench_${Date.now().toString(36)}`,
  };
}

async function startPrivateRedis() {
  const { createServer } = await import('node:net');
  const port = await new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => res(p));
    });
  });
  const dir = mkdtempSync(join(process.env.BENCH_HOME_DIR || tmpdir(), 'updraft-bench-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100; i++) {
    try {
      await redisCommandCount(port);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    stop: () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Commands Redis has executed since it started (INFO commandstats, summed). */
async function redisCommandCount(port) {
  const { Redis } = await import('ioredis');
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = await redis.info('commandstats');
    let total = 0;
    for (const m of info.matchAll(/calls=(\d+)/g)) total += Number(m[1]);
    // This INFO and the connection's own set-up are not the case's work.
    return total;
  } finally {
    redis.disconnect();
  }
}

/** The worker process and its RSS (the worker's own, and with its task processes). */
async function startBenchWorker(env, db) {
  const child = spawn(
    process.execPath,
    [
      join(root, 'bin', 'updraft.js'),
      'celery',
      'worker',
      '-c',
      String(CONCURRENCY),
      '-s',
      '--pid',
      join(env.AIRFLOW_HOME, 'worker.pid'),
    ],
    {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise((res) => child.once('exit', res));
  for (;;) {
    const row = await db
      .selectFrom('job')
      .select('id')
      .where('job_type', '=', 'WorkerJob')
      .where('state', '=', 'running')
      .executeTakeFirst();
    if (row) break;
    if (child.exitCode !== null) throw new Error('The benchmark worker exited during start-up');
    await new Promise((r) => setTimeout(r, 100));
  }
  const rssKb = (pid) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  const children = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  return {
    rss: () => {
      const own = rssKb(child.pid);
      const tree = (pid) => rssKb(pid) + children(pid).reduce((sum, c) => sum + tree(c), 0);
      return { workerMb: own / 1024, withTaskProcessesMb: tree(child.pid) / 1024 };
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const rows = [];
console.log(
  `Scheduler benchmark: chain of ${CHAIN}, fan-out/fan-in of ${FAN}, concurrency ${CONCURRENCY}, ${REPEAT} repeat(s), medians, homes in ${process.env.BENCH_HOME_DIR || tmpdir()}`,
);
const peer = await benchBullmq();
const peerChain = median(peer.chain.map((r) => r.total));
const peerFan = median(peer.fan.map((r) => r.total));
rows.push([
  'BullMQ FlowProducer (Redis)',
  peerChain,
  median(peer.chain.map((r) => r.p50)),
  median(peer.chain.map((r) => r.p95)),
  peerFan,
  median(peer.fan.map((r) => r.tps)),
  1,
  1,
]);
const celeryNotes = [];
const celeryRedis = process.env.BENCH_NO_CELERY ? null : await startPrivateRedis();
for (const dialect of DIALECTS) {
  let localFan = 0;
  for (const celery of celeryRedis ? [null, celeryRedis] : [null]) {
    const r = await benchUpdraft(dialect, celery);
    const chain = median(r.chain.map((x) => x.total));
    const fan = median(r.fan.map((x) => x.total));
    const label = celery
      ? `Updraft CeleryExecutor (1 worker, c=${CONCURRENCY}), ${benchDialectLabel(dialect)}`
      : `Updraft LocalExecutor, ${benchDialectLabel(dialect)}`;
    rows.push([
      label,
      chain,
      median(r.chain.map((x) => x.p50)),
      median(r.chain.map((x) => x.p95)),
      fan,
      median(r.fan.map((x) => x.tps)),
      chain / peerChain,
      fan / peerFan,
    ]);
    if (!celery) localFan = fan;
    else
      celeryNotes.push(
        `${label}: fan ${(fan / localFan).toFixed(2)}x LocalExecutor; Redis commands per task ${(r.redisCommands / r.tasks).toFixed(1)} ` +
          `(INFO commandstats before/after, ${r.redisCommands} for ${r.tasks} tasks); worker RSS ${r.rss.workerMb.toFixed(0)} MB ` +
          `(${r.rss.withTaskProcessesMb.toFixed(0)} MB with its task processes)`,
      );
  }
}
celeryRedis?.stop();
const header = [
  'case',
  'chain s',
  'hop p50 ms',
  'hop p95 ms',
  'fan s',
  'fan tasks/s',
  'chain ×BullMQ',
  'fan ×BullMQ',
];
const fmt = (v, i) =>
  i === 0
    ? v
    : typeof v === 'number'
      ? i >= 6
        ? v.toFixed(2)
        : i === 5
          ? v.toFixed(0)
          : i === 2 || i === 3
            ? v.toFixed(1)
            : v.toFixed(2)
      : String(v);
const table = [header, ...rows.map((r) => r.map(fmt))];
const widths = header.map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
for (const r of table) console.log(r.map((c, i) => String(c).padEnd(widths[i])).join(' | '));
for (const note of celeryNotes) console.log(note);
console.log('Targets: hop p50 <= 10 ms; fan within 2x of BullMQ; CeleryExecutor fan <= 1.25x LocalExecutor.');
process.exit(0);
