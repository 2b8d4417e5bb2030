#!/usr/bin/env node
/**
 * The BullMQ peer of scripts/bench.mjs: the same chain and fan-out/fan-in shapes with BullMQ's
 * FlowProducer on the local Redis, one Worker with concurrency C, each job running `bash -c true`.
 * Prints JSON { chain: [{ total, p50, p95 }], fan: [{ total, tps }] }.
 * Usage: node scripts/bench-bullmq.mjs REPEAT CHAIN FAN C
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const [REPEAT, CHAIN, FAN, CONCURRENCY] = process.argv.slice(2).map(Number);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function benchBullmq() {
  const { FlowProducer, Worker, Queue } = await import('bullmq');
  const { default: IORedis } = await import('ioredis');
  const connection = new IORedis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const queueName = `updraft_bench_${Date.now().toString(36)}`;
  const run = promisify(execFile);
  const worker = new Worker(
    queueName,
    async () => {
      await run('bash', ['-c', 'true']);
    },
    { connection, concurrency: CONCURRENCY },
  );
  await worker.waitUntilReady();
  const flow = new FlowProducer({ connection });
  const queue = new Queue(queueName, { connection });
  const results = { chain: [], fan: [] };
  // The end BullMQ recorded on the top job (finishedOn), found by a slow poll: a fast poll would
  // cost the worker's process and Redis work during the run (the Updraft cases poll the same way).
  const finished = async (jobId) => {
    for (;;) {
      const job = await queue.getJob(jobId);
      if (job?.failedReason) throw new Error(job.failedReason);
      if (job?.finishedOn) return job.finishedOn;
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  try {
    for (let i = 0; i < REPEAT; i++) {
      if (process.env.BENCH_VERBOSE) console.error(`bullmq: repeat ${i + 1}`);
      // Chain: job k's child is job k-1, so job 0 runs first and the top job last.
      let node = { name: 'c0', queueName, data: {}, opts: { removeOnComplete: false } };
      for (let k = 1; k < CHAIN; k++) node = { name: `c${k}`, queueName, data: {}, children: [node] };
      const t0 = Date.now();
      const tree = await flow.add(node);
      const total = ((await finished(tree.job.id)) - t0) / 1000;
      const jobs = [];
      let cur = tree;
      while (cur) {
        jobs.push(await queue.getJob(cur.job.id));
        cur = cur.children?.[0];
      }
      jobs.reverse();
      const hops = [];
      for (let k = 1; k < jobs.length; k++) hops.push(jobs[k].processedOn - jobs[k - 1].finishedOn);
      results.chain.push({ total, p50: pct(hops, 50), p95: pct(hops, 95) });
      const children = Array.from({ length: FAN }, (_, k) => ({ name: `m${k}`, queueName, data: {} }));
      const t1 = Date.now();
      const fan = await flow.add({ name: 'sink', queueName, data: {}, children });
      const ft = ((await finished(fan.job.id)) - t1) / 1000;
      results.fan.push({ total: ft, tps: (FAN + 1) / ft });
    }
  } finally {
    await worker.close();
    await flow.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await connection.quit();
  }
  return results;
}

console.log(JSON.stringify(await benchBullmq()));
process.exit(0);
