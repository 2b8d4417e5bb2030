#!/usr/bin/env node
/**
 * DAG parsing benchmark: 1,000 DAG files of 20 tasks each in a temp folder, parsed into a fresh
 * SQLite metadata DB by processDagFolderOnce (the real processor: forked parse workers, esbuild,
 * DB writes). Reports, as medians of 3 runs: the first full parse, the peak RSS of the processor
 * and its parse workers together, and an unchanged re-scan.
 *
 *   npm run build && node scripts/bench-dag-parsing.mjs [--files 1000] [--tasks 20] [--runs 3]
 */
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const FILES = arg('files', 1000);
const TASKS = arg('tasks', 20);
const RUNS = arg('runs', 3);

function dagSource(i) {
  const lines = [
    `import { DAG, BashOperator, EmptyOperator, chain } from 'updraft';`,
    `export const dag = new DAG({ dagId: 'bench_${i}', schedule: '@daily', startDate: '2024-01-01', catchup: false, tags: ['bench'] }).build(() => {`,
    `  const start = new EmptyOperator({ taskId: 'start' });`,
  ];
  for (let t = 1; t < TASKS - 1; t++)
    lines.push(
      `  const t${t} = new BashOperator({ taskId: 'task_${t}', bashCommand: 'echo ${i}-${t} {{ ds }}', retries: ${t % 3} });`,
    );
  lines.push(`  const end = new EmptyOperator({ taskId: 'end' });`);
  const middle = Array.from({ length: TASKS - 2 }, (_, k) => `t${k + 1}`);
  // A fan-out/fan-in shape: start → (pairs in sequence) → end.
  lines.push(
    `  chain(start, [${middle.filter((_, k) => k % 2 === 0).join(', ')}], [${middle.filter((_, k) => k % 2 === 1).join(', ')}]);`,
  );
  lines.push(`  end.after([${middle.filter((_, k) => k % 2 === 1).join(', ')}]);`);
  lines.push('});');
  return lines.join('\n') + '\n';
}

/** Sum of VmRSS of a process and all its descendants (Linux /proc), in bytes. */
async function treeRss(pid) {
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    try {
      const status = await readFile(`/proc/${p}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) total += Number(m[1]) * 1024;
      for (const t of await readdir(`/proc/${p}/task`)) {
        const kids = (await readFile(`/proc/${p}/task/${t}/children`, 'utf8')).trim();
        if (kids) stack.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return total;
}

/** One trial in a child process, so module caches and memory start fresh each time. */
async function trial() {
  const home = await mkdtemp(path.join(tmpdir(), 'updraft-bench-'));
  const dags = path.join(home, 'dags');
  await mkdir(dags, { recursive: true });
  for (let i = 0; i < FILES; i++) await writeFile(path.join(dags, `bench_${i}.ts`), dagSource(i));
  const env = {
    ...process.env,
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__CORE__DAGS_FOLDER: dags,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${path.join(home, 'airflow.db')}`,
    AIRFLOW__LOGGING__LOGGING_LEVEL: 'WARNING',
  };
  const child = fork(fileURLToPath(import.meta.url), ['--child', ...process.argv.slice(2)], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let peak = 0;
  const sampler = setInterval(async () => {
    peak = Math.max(peak, await treeRss(child.pid));
  }, 50);
  const result = await new Promise((resolve, reject) => {
    child.on('message', resolve);
    child.on('exit', (code) => code !== 0 && reject(new Error(`trial exited with ${code}`)));
  });
  clearInterval(sampler);
  await rm(home, { recursive: true, force: true });
  return { ...result, peakRss: peak };
}

async function childMain() {
  const { createContext } = await import(path.join(root, 'dist/context.js'));
  const { migrateToLatest } = await import(path.join(root, 'dist/db/index.js'));
  const { processDagFolderOnce } = await import(path.join(root, 'dist/dag-processing/processor.js'));
  const ctx = createContext();
  await migrateToLatest(await ctx.db());
  const t0 = performance.now();
  const first = await processDagFolderOnce(ctx);
  const firstMs = performance.now() - t0;
  if (first.dags !== FILES || first.importErrors !== 0)
    throw new Error(`expected ${FILES} DAGs and no errors, got ${JSON.stringify(first)}`);
  const t1 = performance.now();
  const again = await processDagFolderOnce(ctx);
  const rescanMs = performance.now() - t1;
  if (again.filesParsed !== 0) throw new Error(`re-scan parsed ${again.filesParsed} files`);
  await ctx.close();
  process.send({ firstMs, rescanMs });
  process.disconnect();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (process.argv.includes('--child')) {
  await childMain();
} else {
  const results = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await trial();
    results.push(res);
    console.error(
      `run ${r + 1}: parse ${(res.firstMs / 1000).toFixed(2)} s, peak RSS ${(res.peakRss / 2 ** 20).toFixed(0)} MiB, re-scan ${res.rescanMs.toFixed(0)} ms`,
    );
  }
  console.log(`DAG parsing: ${FILES} files x ${TASKS} tasks, SQLite, median of ${RUNS} runs`);
  console.log(
    `  full parse:        ${(median(results.map((r) => r.firstMs)) / 1000).toFixed(2)} s (${(median(results.map((r) => r.firstMs)) / FILES).toFixed(1)} ms/file)`,
  );
  console.log(
    `  peak RSS (total):  ${(median(results.map((r) => r.peakRss)) / 2 ** 20).toFixed(0)} MiB (processor + parse workers)`,
  );
  console.log(`  unchanged re-scan: ${median(results.map((r) => r.rescanMs)).toFixed(0)} ms`);
}
