#!/usr/bin/env node
/**
 * Where a CeleryExecutor chain hop's time goes: one chain of N `true` bash tasks through the real
 * scheduler, one `updraft celery worker -c 8` and the local Redis (a key prefix of its own), with
 * each hop (next task's start_date − previous task's end_date, as the runners wrote them) split
 * into segments timed from BullMQ's event stream (stream ids are Redis's clock, in ms) and the
 * scheduler's own clock:
 *   endToCompleted   runner wrote end_date → the worker's job completed in Redis
 *   completedToEvent → the scheduler's QueueEvents delivered it (the executor queued the event)
 *   eventToSend      → the scheduler's loop handed the next try to the executor
 *   sendToWaiting    → the job was in Redis
 *   waitingToActive  → the worker took it
 *   activeToStart    → the try's runner wrote start_date (DAG file check, task process, claim)
 * With LOCAL=1 the same chain runs on the LocalExecutor (only hop, eventToSend, sendToStart).
 * Medians and quartiles; the machine's load moves all of them. Needs `npm run build` first.
 * Usage: [N=100] [LOCAL=1] node scripts/bench-celery-hops.mjs [sqlite|mysql|mysql-tcp]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  chainDagSource,
  createBenchInstallation,
  dist,
  endOfRun,
  silentLogger,
  triggerDagRun,
} from './bench-support.mjs';

const { Scheduler } = await import(dist('scheduler/scheduler.js'));
const { createExecutor } = await import(dist('executors/index.js'));
const { jobIdFor } = await import(dist('broker/protocol.js'));
const { QueueEvents } = await import('bullmq');
const { Redis } = await import('ioredis');

const N = Number(process.env.N ?? 100);
const LOCAL = Boolean(process.env.LOCAL);
const REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const prefix = `bench_hops_${Date.now().toString(36)}`;
const installation = await createBenchInstallation(
  process.argv[2] ?? 'sqlite',
  { 'bench_chain.ts': chainDagSource(N) },
  'updraft-bench-hops-',
  LOCAL
    ? {}
    : {
        AIRFLOW__CORE__EXECUTOR: 'CeleryExecutor',
        AIRFLOW__CELERY__BROKER_URL: REDIS,
        AIRFLOW__CELERY__WORKER_CONCURRENCY: '8',
        AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX: prefix,
      },
);
const db = installation.store.kysely;
const root = join(dist(''), '..');
const worker = LOCAL
  ? null
  : spawn(
      process.execPath,
      [
        join(root, 'bin', 'updraft.js'),
        'celery',
        'worker',
        '-c',
        '8',
        '-s',
        '--pid',
        join(installation.home, 'worker.pid'),
      ],
      {
        env: installation.env,
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
while (worker) {
  const row = await db
    .selectFrom('job')
    .select('id')
    .where('job_type', '=', 'WorkerJob')
    .where('state', '=', 'running')
    .executeTakeFirst();
  if (row) break;
  await new Promise((r) => setTimeout(r, 100));
}

// Redis-side times per job id, from a listener of our own on the queue's event stream.
const redisTimes = {};
const events = LOCAL
  ? null
  : new QueueEvents('default', { connection: new Redis(REDIS, { maxRetriesPerRequest: null }), prefix });
for (const name of ['waiting', 'active', 'completed'])
  events?.on(
    name,
    ({ jobId }, streamId) => ((redisTimes[jobId] ??= {})[name] = Number(String(streamId).split('-')[0])),
  );
await events?.waitUntilReady();

// Scheduler-side times per task: when the executor got the try, and when it reported its end.
const executor = createExecutor(installation.ctx, { env: installation.env });
const local = {};
const queue = executor.queue.bind(executor);
executor.queue = (item) => {
  local[item.key.taskId] = { ...local[item.key.taskId], send: Date.now(), jobId: jobIdFor(item.key) };
  return queue(item);
};
// When the executor had the try's end (its event queue is private to TypeScript, not at run time).
const push = executor.events.push.bind(executor.events);
executor.events.push = (e) => {
  if (e.type === 'finished') local[e.key.taskId] = { ...local[e.key.taskId], event: Date.now() };
  push(e);
};

const scheduler = new Scheduler(installation.ctx, {
  env: installation.env,
  runDagProcessor: false,
  log: silentLogger,
  executor,
});
const running = scheduler.run();
const run = await triggerDagRun(installation.store, 'bench_chain');
await endOfRun(db, 'bench_chain', run.run_id);
await new Promise((r) => setTimeout(r, 300));
const tis = await db
  .selectFrom('task_instance')
  .select(['task_id', 'start_date', 'end_date'])
  .where('dag_id', '=', 'bench_chain')
  .where('run_id', '=', run.run_id)
  .orderBy('task_id')
  .execute();

const rows = [];
for (let k = 1; k < tis.length; k++) {
  const prev = tis[k - 1];
  const cur = tis[k];
  const p = local[prev.task_id] ?? {};
  const c = local[cur.task_id] ?? {};
  const pr = redisTimes[p.jobId] ?? {};
  const cr = redisTimes[c.jobId] ?? {};
  rows.push(
    LOCAL
      ? {
          hop: cur.start_date - prev.end_date,
          eventToSend: c.send - p.event,
          sendToStart: cur.start_date - c.send,
        }
      : {
          hop: cur.start_date - prev.end_date,
          endToCompleted: pr.completed - prev.end_date,
          completedToEvent: p.event - pr.completed,
          eventToSend: c.send - p.event,
          sendToWaiting: cr.waiting - c.send,
          waitingToActive: cr.active - cr.waiting,
          activeToStart: cur.start_date - cr.active,
        },
  );
}
const quantile = (xs, q) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
console.log(
  `${LOCAL ? 'LocalExecutor' : 'CeleryExecutor'}, ${process.argv[2] ?? 'sqlite'}, chain of ${N}: ms per hop`,
);
for (const key of Object.keys(rows[0] ?? {}))
  console.log(
    `${key.padEnd(17)} p25 ${quantile(
      rows.map((r) => r[key]),
      0.25,
    )}  p50 ${quantile(
      rows.map((r) => r[key]),
      0.5,
    )}  p75 ${quantile(
      rows.map((r) => r[key]),
      0.75,
    )}`,
  );

scheduler.stop();
await running;
worker?.kill('SIGTERM');
await events?.close();
await installation.close();
installation.removeHome();
process.exit(0);
