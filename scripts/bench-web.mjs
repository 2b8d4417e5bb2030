#!/usr/bin/env node
/**
 * Webserver under load: the DAG list page (/home) and GET /api/v1/dags with 1,000 DAGs, 10,000
 * DAG runs and 100,000 task instances in MariaDB (127.0.0.1:3306, root). The webserver runs in
 * this process; the load comes from autocannon in a second process, which records every
 * response time and reports p50/p95/p99 and requests per second.
 * Needs `npm run build` first.  Usage: node scripts/bench-web.mjs [connections=16] [seconds=10]
 */
import { Buffer } from 'node:buffer';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, URLSearchParams } from 'node:url';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--load') {
  // The load generator (second process): report every response time, then percentiles.
  const { default: autocannon } = await import('autocannon');
  const [url, header, connections, seconds] = process.argv.slice(3);
  const times = [];
  let errors = 0;
  const instance = autocannon({
    url,
    connections: Number(connections),
    duration: Number(seconds),
    headers: JSON.parse(header),
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status !== 200) errors++;
    times.push(ms);
  });
  instance.on('done', (result) => {
    times.sort((a, b) => a - b);
    const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN;
    process.send({
      requests: times.length,
      errors: errors + result.errors + result.non2xx,
      rps: result.requests.average,
      p50: at(0.5),
      p95: at(0.95),
      p99: at(0.99),
    });
  });
} else {
  const root = resolve(dirname(self), '..');
  const dist = (p) => join(root, 'dist', p);
  const { createContext } = await import(dist('context.js'));
  const { migrateToLatest } = await import(dist('db/index.js'));
  const { createUser } = await import(dist('users/index.js'));
  const { startWebserver } = await import(dist('web/index.js'));
  const mysql = await import('mysql2/promise');

  const connections = Number(process.argv[2] ?? 16);
  const seconds = Number(process.argv[3] ?? 10);
  const DAGS = 1000;
  const RUNS_PER_DAG = 10;
  const TASKS_PER_DAG = 10;

  const dbName = `updraft_bench_web_${Date.now().toString(36)}`;
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  await admin.query(`CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  const home = mkdtempSync(join(tmpdir(), 'updraft-bench-web-'));
  const ctx = createContext({
    env: {
      ...process.env,
      AIRFLOW_HOME: home,
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `mysql://root@127.0.0.1:3306/${dbName}`,
      AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE: '10',
      AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth',
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
    },
  });
  try {
    const store = await ctx.db();
    await migrateToLatest(store);
    await createUser(store, {
      username: 'bench',
      email: 'bench@example.com',
      firstName: 'B',
      lastName: 'B',
      password: 'bench-pass',
      roles: ['Admin'],
    });

    const t0 = performance.now();
    const db = store.kysely;
    const now = Date.now();
    const states = [
      'success',
      'success',
      'success',
      'failed',
      'running',
      'skipped',
      'upstream_failed',
      'queued',
      null,
      'success',
    ];
    const chunks = async (table, rows, size = 1000) => {
      for (let i = 0; i < rows.length; i += size)
        await db
          .insertInto(table)
          .values(rows.slice(i, i + size))
          .execute();
    };
    const dags = [];
    const tags = [];
    const serialized = [];
    const code = [];
    const runs = [];
    const tis = [];
    for (let d = 0; d < DAGS; d++) {
      const dagId = `bench_dag_${String(d).padStart(4, '0')}`;
      const fileloc = `/dags/${dagId}.ts`;
      dags.push({
        dag_id: dagId,
        fileloc,
        owners: `team_${d % 7}`,
        description: null,
        is_paused: d % 4 === 0 ? 1 : 0,
        is_active: 1,
        has_import_errors: 0,
        schedule_interval: '0 * * * *',
        timetable_description: 'At minute 0',
        max_active_runs: 16,
        max_active_tasks: 16,
        last_parsed_time: now,
        next_dagrun: now + 3600_000,
        next_dagrun_data_interval_start: null,
        next_dagrun_data_interval_end: null,
        next_dagrun_create_after: null,
      });
      tags.push({ dag_id: dagId, name: `tag_${d % 20}` }, { dag_id: dagId, name: 'bench' });
      const tasks = Array.from({ length: TASKS_PER_DAG }, (_, t) => ({
        taskId: `task_${t}`,
        upstream: t ? [`task_${t - 1}`] : [],
      }));
      serialized.push({
        dag_id: dagId,
        fileloc,
        data: JSON.stringify({ version: 1, dagId, tasks, params: {} }),
        dag_hash: `h${d}`,
        last_updated: now,
      });
      code.push({ fileloc, source_code: `// ${dagId}`, source_hash: `s${d}`, last_updated: now });
      for (let r = 0; r < RUNS_PER_DAG; r++) {
        const runId = `scheduled__${new Date(now - (RUNS_PER_DAG - r) * 3600_000).toISOString()}`;
        runs.push({
          dag_id: dagId,
          run_id: runId,
          run_type: 'scheduled',
          state: r === RUNS_PER_DAG - 1 ? 'running' : r % 5 === 0 ? 'failed' : 'success',
          logical_date: now - (RUNS_PER_DAG - r) * 3600_000,
          data_interval_start: null,
          data_interval_end: null,
          queued_at: now,
          start_date: now,
          end_date: now,
          external_trigger: 0,
          conf: '{}',
          last_scheduling_decision: null,
          creating_job_id: null,
          updated_at: now,
        });
        for (let t = 0; t < TASKS_PER_DAG; t++) {
          tis.push({
            dag_id: dagId,
            run_id: runId,
            task_id: `task_${t}`,
            map_index: -1,
            state: states[(d + r + t) % states.length],
            try_number: 1,
            max_tries: 0,
            start_date: now,
            end_date: now,
            duration: 1,
            hostname: 'h',
            unixname: 'u',
            pid: 1,
            job_id: null,
            pool: 'default_pool',
            pool_slots: 1,
            queue: 'default',
            priority_weight: 1,
            operator: 'BashOperator',
            queued_dttm: now,
            queued_by_job_id: null,
            next_retry_at: null,
            external_executor_id: null,
            rendered_fields: null,
            updated_at: now,
          });
        }
      }
    }
    await chunks('dag', dags);
    await chunks('dag_tag', tags);
    await chunks('serialized_dag', serialized, 500);
    await chunks('dag_code', code);
    await chunks('dag_run', runs);
    await chunks('task_instance', tis, 2000);
    await db
      .insertInto('job')
      .values({
        dag_id: null,
        state: 'running',
        job_type: 'SchedulerJob',
        start_date: now,
        end_date: null,
        latest_heartbeat: now + 3600_000,
        executor_class: 'LocalExecutor',
        hostname: 'h',
        unixname: 'u',
        pid: 1,
      })
      .execute();
    console.log(
      `Loaded ${DAGS} DAGs, ${runs.length} runs, ${tis.length} task instances into ${store.capabilities.serverVersion} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const web = await startWebserver(ctx, { host: '127.0.0.1', port: 0 });
    try {
      // A browser session for the UI page.
      const loginPage = await fetch(`${web.url}/login`);
      const anon = loginPage.headers.get('set-cookie').split(';')[0];
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(await loginPage.text())[1];
      const signIn = await fetch(`${web.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: anon, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf_token: csrf, username: 'bench', password: 'bench-pass' }),
      });
      const session = signIn.headers.get('set-cookie').split(';')[0];
      const basic = `Basic ${Buffer.from('bench:bench-pass').toString('base64')}`;

      const targets = [
        { name: 'DAG list page /home (25 DAGs/page)', url: `${web.url}/home`, headers: { cookie: session } },
        { name: 'DAG list page /home?page=20', url: `${web.url}/home?page=20`, headers: { cookie: session } },
        {
          name: 'GET /api/v1/dags (limit 100)',
          url: `${web.url}/api/v1/dags`,
          headers: { authorization: basic },
        },
      ];
      for (const target of targets) {
        const check = await fetch(target.url, { headers: target.headers });
        if (check.status !== 200) throw new Error(`${target.url} answered ${check.status}`);
        const result = await new Promise((resolvePromise, reject) => {
          const child = fork(self, [
            '--load',
            target.url,
            JSON.stringify(target.headers),
            String(connections),
            String(seconds),
          ]);
          child.on('message', resolvePromise);
          child.on('error', reject);
          child.on('exit', (code) => code && reject(new Error(`load generator exited ${code}`)));
        });
        console.log(
          `${target.name}: ${connections} connections for ${seconds} s → ${result.requests} requests, ${result.rps.toFixed(0)} req/s, ` +
            `p50 ${result.p50} ms, p95 ${result.p95} ms, p99 ${result.p99} ms, errors ${result.errors}`,
        );
      }
    } finally {
      await web.close();
    }
  } finally {
    await ctx.close();
    // BENCH_KEEP_DB=1 keeps the data for profiling queries by hand.
    if (process.env.BENCH_KEEP_DB === '1') console.log(`Kept database ${dbName}`);
    else await admin.query(`DROP DATABASE IF EXISTS \`${dbName}\``);
    await admin.end();
    rmSync(home, { recursive: true, force: true });
  }
}
