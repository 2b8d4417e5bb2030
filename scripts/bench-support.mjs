/**
 * What the scheduler benchmarks share (`bench.mjs`, `bench-fan-cpu.mjs`): the DAG shapes, a fresh
 * metadata database per run, and the environment of an installation at concurrency 8.
 */
import { join } from 'node:path';

export const CONCURRENCY = 8;

/** `length` chained `true` bash tasks. */
export function chainDagSource(length) {
  return `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'bench_chain', schedule: null, startDate: '2024-01-01', maxActiveTasks: ${CONCURRENCY} }).build(() => {
  let prev: BashOperator | undefined;
  for (let i = 0; i < ${length}; i++) {
    const t = new BashOperator({ taskId: 't' + String(i).padStart(3, '0'), bashCommand: 'true' });
    if (prev) prev.then(t);
    prev = t;
  }
});
`;
}

/** root → `width` `true` bash tasks → sink. */
export function fanDagSource(width) {
  return `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'bench_fan', schedule: null, startDate: '2024-01-01', maxActiveTasks: ${CONCURRENCY} }).build(() => {
  const root = new BashOperator({ taskId: 'root', bashCommand: 'true' });
  const sink = new BashOperator({ taskId: 'sink', bashCommand: 'true' });
  for (let i = 0; i < ${width}; i++) root.then(new BashOperator({ taskId: 'm' + String(i).padStart(4, '0'), bashCommand: 'true' })).then(sink);
});
`;
}

/** A fresh metadata database: a file in `home` for SQLite, a new database on the local MariaDB. */
export async function createBenchDatabase(dialect, home) {
  if (dialect === 'sqlite') return { url: `sqlite:///${join(home, 'airflow.db')}`, drop: async () => {} };
  const { createConnection } = await import('mysql2/promise');
  const name = `updraft_bench_${Date.now().toString(36)}`;
  const admin = () => createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  const c = await admin();
  await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await c.end();
  return {
    url: `mysql://root@127.0.0.1:3306/${name}`,
    drop: async () => {
      const d = await admin();
      await d.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await d.end();
    },
  };
}

/** The environment of the benchmarked installation: LocalExecutor, parallelism and warm processes 8. */
export function benchEnv(home, url) {
  return {
    ...process.env,
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: url,
    AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE: '10',
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
    AIRFLOW__CORE__PARALLELISM: String(CONCURRENCY),
    AIRFLOW__CORE__TASK_RUNNER_WARM_PROCESSES: String(CONCURRENCY),
    AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
  };
}
