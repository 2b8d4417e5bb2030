import type { DagRunState, TaskInstanceState } from '../db/tables.js';
import type { TaskServices, XComBackend } from '../dag/execution.js';
import type { MetadataDb } from '../db/index.js';
import { getVariable } from '../variables/index.js';
import { getConnection } from '../connections/index.js';
import type { Fernet } from '../security/fernet.js';
import { UsageError } from '../errors.js';
import { jsonObjectOrNull } from '../core/json-object.js';
import { startBash } from '../worker/bash-starter.js';

/**
 * The database-backed services a running task may use (TaskServices in dag/execution.ts).
 * Variables and connections come from the variables/connections services, with Airflow's lookup
 * order: environment first (AIRFLOW_VAR_{KEY}, AIRFLOW_CONN_{CONN_ID}), then the metadata DB.
 */
export interface TaskServicesInput {
  store: MetadataDb;
  fernet: Fernet;
  xcom: XComBackend;
  env?: NodeJS.ProcessEnv;
  /** Creates a DAG run of another DAG (TriggerDagRunOperator); absent → the operator gets a clear error. */
  triggerDagRun?: TaskServices['triggerDagRun'];
}

export function createTaskServices(input: TaskServicesInput): TaskServices {
  const { fernet } = input;
  const db = input.store.kysely;
  const env = input.env ?? process.env;
  return {
    xcom: input.xcom,
    startBash,
    getVariable: (key) => getVariable(input.store, fernet, key, env),
    async getConnection(connId) {
      const c = await getConnection(input.store, fernet, connId, env);
      if (!c) return undefined;
      const extra = jsonObjectOrNull(c.extra) ?? {};
      return {
        connId,
        connType: c.connType,
        host: c.host ?? null,
        schema: c.schema ?? null,
        login: c.login ?? null,
        password: c.password ?? null,
        port: c.port ?? null,
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
