import type { Kysely } from 'kysely';
import type { Database, DagRunState, TaskInstanceState } from '../db/tables.js';
import type { ConnectionInfo, TaskServices, XComBackend } from '../dag/execution.js';
import type { Fernet } from '../security/fernet.js';
import { UsageError } from '../errors.js';

/**
 * The database-backed services a running task may use (TaskServices in dag/execution.ts).
 * Variables and connections follow Airflow's lookup order: environment first
 * (AIRFLOW_VAR_{KEY}, AIRFLOW_CONN_{CONN_ID} as a URI), then the metadata DB (decrypted).
 */
export interface TaskServicesInput {
  db: Kysely<Database>;
  fernet: Fernet;
  xcom: XComBackend;
  env?: NodeJS.ProcessEnv;
  /** Creates a DAG run of another DAG (TriggerDagRunOperator); absent → the operator gets a clear error. */
  triggerDagRun?: TaskServices['triggerDagRun'];
}

export function connectionFromUri(connId: string, uri: string): ConnectionInfo {
  const url = new URL(uri);
  const extra: Record<string, unknown> = {};
  url.searchParams.forEach((v, k) => (extra[k] = v));
  return {
    connId,
    connType: url.protocol.replace(/:$/, '').replace(/-/g, '_') || null,
    host: url.hostname ? decodeURIComponent(url.hostname) : null,
    schema: url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : null,
    login: url.username ? decodeURIComponent(url.username) : null,
    password: url.password ? decodeURIComponent(url.password) : null,
    port: url.port ? Number(url.port) : null,
    extra,
  };
}

export function createTaskServices(input: TaskServicesInput): TaskServices {
  const { db, fernet } = input;
  const env = input.env ?? process.env;
  return {
    xcom: input.xcom,
    async getVariable(key) {
      const fromEnv = env[`AIRFLOW_VAR_${key.toUpperCase()}`];
      if (fromEnv !== undefined) return fromEnv;
      const row = await db
        .selectFrom('variable')
        .select(['val', 'is_encrypted'])
        .where('key', '=', key)
        .executeTakeFirst();
      if (!row) return undefined;
      return row.is_encrypted ? fernet.decrypt(row.val) : row.val;
    },
    async getConnection(connId) {
      const fromEnv = env[`AIRFLOW_CONN_${connId.toUpperCase()}`];
      if (fromEnv !== undefined) return connectionFromUri(connId, fromEnv);
      const row = await db
        .selectFrom('connection')
        .selectAll()
        .where('conn_id', '=', connId)
        .executeTakeFirst();
      if (!row) return undefined;
      const password =
        row.password !== null && row.is_encrypted ? fernet.decrypt(row.password) : row.password;
      const extraText = row.extra !== null && row.is_extra_encrypted ? fernet.decrypt(row.extra) : row.extra;
      let extra: Record<string, unknown> = {};
      if (extraText) {
        try {
          extra = JSON.parse(extraText) as Record<string, unknown>;
        } catch {
          extra = {};
        }
      }
      return {
        connId,
        connType: row.conn_type,
        host: row.host,
        schema: row.schema,
        login: row.login,
        password,
        port: row.port,
        extra,
      };
    },
    triggerDagRun:
      input.triggerDagRun ??
      (async () => {
        throw new UsageError('Triggering another DAG run is not available in this task process');
      }),
    async getExternalStates(query) {
      const run = await db
        .selectFrom('dag_run')
        .select(['run_id', 'state'])
        .where('dag_id', '=', query.dagId)
        .where('logical_date', '=', query.logicalDate.getTime())
        .executeTakeFirst();
      if (!run) return { runState: null, taskStates: (query.taskIds ?? []).map(() => null) };
      if (query.taskIds === null) return { runState: run.state as DagRunState, taskStates: [] };
      const rows =
        query.taskIds.length === 0
          ? []
          : await db
              .selectFrom('task_instance')
              .select(['task_id', 'state'])
              .where('dag_id', '=', query.dagId)
              .where('run_id', '=', run.run_id)
              .where('task_id', 'in', query.taskIds)
              .execute();
      const byId = new Map(rows.map((r) => [r.task_id, r.state as TaskInstanceState | null]));
      return {
        runState: run.state as DagRunState,
        taskStates: query.taskIds.map((t) => byId.get(t) ?? null),
      };
    },
    async getDagRunState(dagId, runId) {
      const row = await db
        .selectFrom('dag_run')
        .select('state')
        .where('dag_id', '=', dagId)
        .where('run_id', '=', runId)
        .executeTakeFirst();
      return (row?.state as DagRunState | undefined) ?? null;
    },
  };
}
