/**
 * What the scheduler benchmarks share (`bench.mjs`, `bench-fan-cpu.mjs`, `bench-runner.mjs`): the
 * DAG shapes, a fresh metadata database per run, the environment of an installation at
 * concurrency 8, and setting such an installation up from the built `dist/`.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** A module of the build (`npm run build` first). */
export const dist = (path) => join(root, 'dist', path);
const { createContext } = await import(dist('context.js'));
const { migrateToLatest } = await import(dist('db/index.js'));
const { processDagFolderOnce } = await import(dist('dag-processing/processor.js'));
export const { silentLogger } = await import(dist('log.js'));
export const { triggerDagRun } = await import(dist('dag-runs/index.js'));

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

/** The metadata databases the benchmarks know: `mysql` is the local MariaDB over its Unix socket. */
export const BENCH_DIALECTS = ['sqlite', 'mysql', 'mysql-tcp'];

/** How a case's metadata DB is named in the tables. */
export function benchDialectLabel(dialect) {
  return { sqlite: 'SQLite', mysql: 'MariaDB, socket', 'mysql-tcp': 'MariaDB, TCP' }[dialect] ?? dialect;
}

/**
 * A fresh metadata database: a file in `home` for SQLite, a new database on the local MariaDB for
 * `mysql` (through the server's Unix socket, as a single-host install connects) and `mysql-tcp`
 * (through 127.0.0.1:3306, as a database on another host would be reached).
 */
export async function createBenchDatabase(dialect, home) {
  if (dialect === 'sqlite') return { url: `sqlite:///${join(home, 'airflow.db')}`, drop: async () => {} };
  if (!BENCH_DIALECTS.includes(dialect)) throw new Error(`Unknown benchmark database ${dialect}`);
  const { createConnection } = await import('mysql2/promise');
  const name = `updraft_bench_${Date.now().toString(36)}`;
  const admin = () => createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  const c = await admin();
  await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  const [[{ socket }]] = await c.query('SELECT @@socket AS socket');
  await c.end();
  if (dialect === 'mysql' && !(socket && existsSync(socket))) {
    throw new Error(`The local MariaDB has no Unix socket (@@socket = ${socket}); use mysql-tcp`);
  }
  return {
    url:
      dialect === 'mysql'
        ? `mysql://root@localhost/${name}?unix_socket=${socket}`
        : `mysql://root@127.0.0.1:3306/${name}`,
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
    // As in Airflow, a paused DAG's triggered runs wait: the benchmark DAGs start unpaused.
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
    AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
    AIRFLOW__CORE__PARALLELISM: String(CONCURRENCY),
    AIRFLOW__CORE__TASK_RUNNER_WARM_PROCESSES: String(CONCURRENCY),
    AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
  };
}

/**
 * A fresh installation in BENCH_HOME_DIR (default: the OS temp folder): its home with `dags`
 * (file name → source), a fresh metadata database, migrated and with the DAG files parsed.
 * `extraEnv` overrides the installation's configuration (the CeleryExecutor cases).
 * `close()` closes it and drops its database; `removeHome()` deletes its files (see bench.mjs on
 * when to do that).
 */
export async function createBenchInstallation(dialect, dags, prefix = 'updraft-bench-', extraEnv = {}) {
  const home = mkdtempSync(join(process.env.BENCH_HOME_DIR || tmpdir(), prefix));
  mkdirSync(join(home, 'dags'));
  for (const [file, source] of Object.entries(dags)) writeFileSync(join(home, 'dags', file), source);
  const database = await createBenchDatabase(dialect, home);
  const env = { ...benchEnv(home, database.url), ...extraEnv };
  const ctx = createContext({ env, log: silentLogger });
  const store = await ctx.db();
  await migrateToLatest(store);
  await processDagFolderOnce(ctx, { log: silentLogger });
  return {
    home,
    env,
    ctx,
    store,
    close: async () => {
      await ctx.close();
      await database.drop();
    },
    removeHome: () => rmSync(home, { recursive: true, force: true }),
  };
}

/**
 * When the run ended, as the scheduler recorded it (dag_run.end_date). The poll is slow on
 * purpose: each poll is a query that the scheduler's process and the database would otherwise
 * spend on the run (every 5 ms, it was about one query per task of the fan-out), and the
 * recorded end does not depend on when the poll sees it.
 */
export async function endOfRun(db, dagId, runId) {
  for (;;) {
    const r = await db
      .selectFrom('dag_run')
      .select(['state', 'end_date'])
      .where('dag_id', '=', dagId)
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow();
    if (r.state === 'failed') throw new Error(`${dagId} run ${runId} ended ${r.state}`);
    if (r.state === 'success') return Number(r.end_date);
    await new Promise((res) => setTimeout(res, 100));
  }
}
