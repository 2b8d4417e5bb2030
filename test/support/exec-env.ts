import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createContext, type AppContext } from '../../src/context.js';
import type { MetadataDb } from '../../src/db/index.js';
import type { TaskInstanceState } from '../../src/db/tables.js';
import { importDagFile } from '../../src/dag-processing/import-dag-file.js';
import { migrateToLatest } from '../../src/db/index.js';
import { createTestDatabase, type TestDialect } from './databases.js';

export const EXEC_DAG_FILE = resolve(import.meta.dirname, 'fixtures/exec_dags.ts');
export const DAG_ID = 'exec_test';

/**
 * A real installation for execution tests: a fresh metadata DB of the dialect, an AIRFLOW_HOME
 * with its own log folder, and the environment task processes get (so they load the same config).
 */
export interface ExecEnv {
  ctx: AppContext;
  db: MetadataDb;
  env: NodeJS.ProcessEnv;
  home: string;
  logFolder: string;
  cleanup(): Promise<void>;
}

export async function createExecEnv(
  dialect: TestDialect,
  extra: Record<string, string> = {},
): Promise<ExecEnv> {
  const created = await createTestDatabase(dialect);
  const home = await mkdtemp(join(tmpdir(), 'updraft-exec-'));
  const logFolder = join(home, 'logs');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: created.url,
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: logFolder,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC: '0.2',
    AIRFLOW__CORE__KILLED_TASK_CLEANUP_TIME: '2',
    ...extra,
  };
  const ctx = createContext({ env, onWarning: () => undefined });
  const db = await ctx.db();
  await migrateToLatest(db);
  return {
    ctx,
    db,
    env,
    home,
    logFolder,
    async cleanup() {
      await ctx.close();
      await created.drop().catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** The serialized DAG row the scheduler would have written (the executor reads retry settings from it). */
export async function seedSerializedDag(db: MetadataDb, file = EXEC_DAG_FILE): Promise<void> {
  const dags = await importDagFile(file);
  for (const dag of dags) {
    const data = JSON.stringify(dag.serialize());
    await db.kysely.deleteFrom('serialized_dag').where('dag_id', '=', dag.dagId).execute();
    await db.kysely
      .insertInto('serialized_dag')
      .values({ dag_id: dag.dagId, fileloc: file, data, dag_hash: 'test', last_updated: Date.now() })
      .execute();
  }
}

export async function seedDagRun(
  db: MetadataDb,
  runId: string,
  conf: Record<string, unknown> | null = null,
  logicalDate = Date.UTC(2024, 0, 2),
): Promise<void> {
  await db.kysely
    .insertInto('dag_run')
    .values({
      dag_id: DAG_ID,
      run_id: runId,
      run_type: 'manual',
      state: 'running',
      logical_date: logicalDate,
      data_interval_start: logicalDate - 86_400_000,
      data_interval_end: logicalDate,
      queued_at: Date.now(),
      start_date: Date.now(),
      end_date: null,
      external_trigger: 1,
      conf: conf ? JSON.stringify(conf) : null,
      last_scheduling_decision: null,
      creating_job_id: null,
      updated_at: Date.now(),
    })
    .execute();
}

/** A task instance as the scheduler leaves it when it hands the try to an executor. */
export async function seedTaskInstance(
  db: MetadataDb,
  runId: string,
  taskId: string,
  options: {
    tryNumber?: number;
    maxTries?: number;
    state?: TaskInstanceState;
    mapIndex?: number;
    dagId?: string;
    priorityWeight?: number;
    operator?: string;
    updatedAt?: number;
  } = {},
): Promise<{ dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber: number }> {
  const tryNumber = options.tryNumber ?? 1;
  const mapIndex = options.mapIndex ?? -1;
  const dagId = options.dagId ?? DAG_ID;
  await db.kysely
    .insertInto('task_instance')
    .values({
      dag_id: dagId,
      run_id: runId,
      task_id: taskId,
      map_index: mapIndex,
      state: options.state ?? 'queued',
      try_number: tryNumber,
      max_tries: options.maxTries ?? 0,
      start_date: null,
      end_date: null,
      duration: null,
      hostname: null,
      unixname: null,
      pid: null,
      job_id: null,
      pool: 'default_pool',
      pool_slots: 1,
      queue: 'default',
      priority_weight: options.priorityWeight ?? 1,
      operator: options.operator ?? null,
      queued_dttm: Date.now(),
      queued_by_job_id: null,
      next_retry_at: null,
      external_executor_id: null,
      rendered_fields: null,
      updated_at: options.updatedAt ?? Date.now(),
    })
    .execute();
  return { dagId, runId, taskId, mapIndex, tryNumber };
}

export async function tiRow(db: MetadataDb, runId: string, taskId: string, mapIndex = -1) {
  return db.kysely
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', DAG_ID)
    .where('run_id', '=', runId)
    .where('task_id', '=', taskId)
    .where('map_index', '=', mapIndex)
    .executeTakeFirstOrThrow();
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
