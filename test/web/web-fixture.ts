import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createContext, type AppContext } from '../../src/context.js';
import { migrateToLatest, type MetadataDb } from '../../src/db/index.js';
import type { SerializedDag, SerializedTask } from '../../src/dag/serialized.js';
import { taskLogPath } from '../../src/task-runner/task-log.js';
import { createUser } from '../../src/users/index.js';
import { buildWebApp } from '../../src/web/index.js';
import { createTestDatabase, type TestDialect } from '../support/databases.js';

/**
 * A webserver on a fresh real database: one user per role (password = username + "-pass"),
 * a fixture DAG stored as the DAG processor stores it, and helpers to add runs, task
 * instances, logs and scheduler heartbeats.
 */
export const ROLE_USERS = {
  admin: 'Admin',
  op: 'Op',
  user: 'User',
  viewer: 'Viewer',
  public: 'Public',
} as const;
export type RoleUser = keyof typeof ROLE_USERS;
export const passwordOf = (u: string) => `${u}-pass`;

export interface WebFixture {
  ctx: AppContext;
  store: MetadataDb;
  app: FastifyInstance;
  home: string;
  close(): Promise<void>;
}

export async function startWebFixture(
  dialect: TestDialect,
  env: Record<string, string> = {},
): Promise<WebFixture> {
  const home = await mkdtemp(join(tmpdir(), 'updraft-web-'));
  const database = await createTestDatabase(dialect);
  const ctx = createContext({
    env: {
      AIRFLOW_HOME: home,
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.url,
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
      ...env,
    },
    onWarning: () => {},
  });
  const store = await ctx.db();
  await migrateToLatest(store);
  for (const [username, role] of Object.entries(ROLE_USERS)) {
    await createUser(store, {
      username,
      email: `${username}@example.com`,
      firstName: username,
      lastName: 'Test',
      password: passwordOf(username),
      roles: [role],
    });
  }
  const app = await buildWebApp(ctx);
  return {
    ctx,
    store,
    app,
    home,
    async close() {
      await app.close();
      await ctx.close();
      await database.drop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

function task(taskId: string, upstream: string[], extra: Partial<SerializedTask> = {}): SerializedTask {
  return {
    taskId,
    operator: 'BashOperator',
    upstream,
    owner: 'data-team',
    triggerRule: 'all_success',
    retries: 1,
    retryDelayMs: 300_000,
    retryExponentialBackoff: false,
    maxRetryDelayMs: null,
    executionTimeoutMs: null,
    pool: 'default_pool',
    poolSlots: 1,
    priorityWeight: 1,
    weightRule: 'downstream',
    queue: 'default',
    dependsOnPast: false,
    templateFields: ['bash_command'],
    templateValues: { bash_command: `echo ${taskId}` },
    isEmpty: false,
    isBranch: false,
    isShortCircuit: false,
    sensor: null,
    mapped: null,
    groupId: null,
    doc: null,
    uiColor: null,
    hasCallbacks: { onSuccess: false, onFailure: false, onRetry: false, onExecute: false },
    ...extra,
  };
}

export function fixtureDag(
  dagId: string,
  options: { tags?: string[]; paused?: boolean } = {},
): SerializedDag {
  return {
    version: 1,
    dagId,
    fileloc: `/dags/${dagId}.ts`,
    description: `Fixture DAG ${dagId}`,
    docMd: null,
    owner: 'data-team',
    tags: options.tags ?? ['fixture'],
    schedule: { kind: 'cron', expression: '0 0 * * *' },
    timezone: 'UTC',
    startDate: '2024-01-01T00:00:00.000Z',
    endDate: null,
    catchup: false,
    maxActiveRuns: 16,
    maxActiveTasks: 16,
    dagrunTimeoutMs: null,
    isPausedUponCreation: null,
    params: {
      who: { default: 'world', schema: { type: 'string' } },
      count: { default: 1, schema: { type: 'integer', minimum: 1 } },
    },
    tasks: [
      task('extract', []),
      task('section.transform', ['extract'], { groupId: 'section' }),
      task('section.check', ['section.transform'], { groupId: 'section', operator: 'PythonOperator' }),
      task('load', ['section.check']),
    ],
    taskGroups: [{ groupId: 'section', tooltip: null, children: ['section.transform', 'section.check'] }],
    hasCallbacks: { onSuccess: false, onFailure: false },
  };
}

/** Store a DAG as the DAG processor would: dag, dag_tag, serialized_dag and dag_code rows. */
export async function insertDag(
  store: MetadataDb,
  dag: SerializedDag,
  options: { paused?: boolean } = {},
): Promise<void> {
  const db = store.kysely;
  const now = Date.now();
  await db
    .insertInto('dag')
    .values({
      dag_id: dag.dagId,
      fileloc: dag.fileloc,
      owners: dag.owner,
      description: dag.description,
      is_paused: options.paused ? 1 : 0,
      is_active: 1,
      has_import_errors: 0,
      schedule_interval: '0 0 * * *',
      timetable_description: 'At 00:00',
      max_active_runs: dag.maxActiveRuns,
      max_active_tasks: dag.maxActiveTasks,
      last_parsed_time: now,
      next_dagrun: now + 3_600_000,
      next_dagrun_data_interval_start: null,
      next_dagrun_data_interval_end: null,
      next_dagrun_create_after: null,
    })
    .execute();
  if (dag.tags.length)
    await db
      .insertInto('dag_tag')
      .values(dag.tags.map((name) => ({ dag_id: dag.dagId, name })))
      .execute();
  await db
    .insertInto('serialized_dag')
    .values({
      dag_id: dag.dagId,
      fileloc: dag.fileloc,
      data: JSON.stringify(dag),
      dag_hash: `h-${dag.dagId}-${now}`,
      last_updated: now,
    })
    .execute();
  await db
    .insertInto('dag_code')
    .values({
      fileloc: dag.fileloc,
      source_code: `// source of ${dag.dagId}\nexport default dag('${dag.dagId}');\n`,
      source_hash: 'x',
      last_updated: now,
    })
    .execute();
}

/** Task instances for a run, in the given states (what the scheduler and runners would write). */
export async function setTaskStates(
  store: MetadataDb,
  dag: SerializedDag,
  runId: string,
  states: Record<string, string | null>,
): Promise<void> {
  const now = Date.now();
  for (const t of dag.tasks) {
    const state = (states[t.taskId] ?? null) as never;
    const existing = await store.kysely
      .selectFrom('task_instance')
      .select('task_id')
      .where('dag_id', '=', dag.dagId)
      .where('run_id', '=', runId)
      .where('task_id', '=', t.taskId)
      .executeTakeFirst();
    const values = {
      state,
      try_number: state ? 1 : 0,
      start_date: state ? now - 5000 : null,
      end_date: state === 'success' || state === 'failed' ? now : null,
      duration: state ? 5 : null,
      hostname: 'worker-1',
      updated_at: now,
    };
    if (existing)
      await store.kysely
        .updateTable('task_instance')
        .set(values)
        .where('dag_id', '=', dag.dagId)
        .where('run_id', '=', runId)
        .where('task_id', '=', t.taskId)
        .execute();
    else
      await store.kysely
        .insertInto('task_instance')
        .values({
          dag_id: dag.dagId,
          run_id: runId,
          task_id: t.taskId,
          map_index: -1,
          max_tries: t.retries,
          pool: t.pool,
          pool_slots: 1,
          queue: 'default',
          priority_weight: 1,
          operator: t.operator,
          unixname: null,
          pid: null,
          job_id: null,
          queued_dttm: null,
          queued_by_job_id: null,
          next_retry_at: null,
          external_executor_id: null,
          rendered_fields: JSON.stringify({ bash_command: `echo rendered ${t.taskId}` }),
          ...values,
        })
        .execute();
  }
}

export async function writeTaskLog(
  ctx: AppContext,
  key: { dagId: string; runId: string; taskId: string; tryNumber: number },
  text: string,
  append = false,
): Promise<void> {
  const path = taskLogPath(ctx.config.values.logging.base_log_folder, { ...key, mapIndex: -1 });
  await mkdir(dirname(path), { recursive: true });
  const { appendFile } = await import('node:fs/promises');
  if (append) await appendFile(path, text);
  else await writeFile(path, text);
}

/** A SchedulerJob row with the given heartbeat (what a running scheduler writes). */
export async function schedulerHeartbeat(
  store: MetadataDb,
  at: number,
  state: 'running' | 'success' = 'running',
): Promise<void> {
  await store.kysely
    .insertInto('job')
    .values({
      dag_id: null,
      state,
      job_type: 'SchedulerJob',
      start_date: at - 1000,
      end_date: null,
      latest_heartbeat: at,
      executor_class: 'LocalExecutor',
      hostname: 'test-host',
      unixname: 'test',
      pid: 1,
    })
    .execute();
}

export function basic(user: string, password = passwordOf(user)): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
