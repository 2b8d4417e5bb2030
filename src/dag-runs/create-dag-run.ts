import type { Kysely, Transaction } from 'kysely';
import type { SerializedDag } from '../dag/serialized.js';
import type { Database, DagRunRow, DagRunState, DagRunType, NewTaskInstance } from '../db/tables.js';
import { ConflictError } from '../errors.js';
import { priorityWeights } from './priority.js';
import { runIdFor } from './run-id.js';
import { transactionWithRetry } from '../db/transient-errors.js';

export interface CreateDagRunInput {
  dag: SerializedDag;
  runType: DagRunType;
  logicalDate: number;
  dataInterval: { start: number; end: number } | null;
  runId?: string;
  conf?: Record<string, unknown> | null;
  state?: DagRunState;
  externalTrigger?: boolean;
  creatingJobId?: number | null;
  now?: number;
}

/**
 * Insert a DagRun and its task instances (state none; mapped tasks get one placeholder at map
 * index -1 that the scheduler expands). (dag_id, run_id) and (dag_id, logical_date) are unique:
 * a clash is a ConflictError and nothing is written.
 */
export async function createDagRun(db: Kysely<Database>, input: CreateDagRunInput): Promise<DagRunRow> {
  const now = input.now ?? Date.now();
  const runId = input.runId ?? runIdFor(input.runType, input.logicalDate);
  const dagId = input.dag.dagId;
  return transactionWithRetry(db, async (trx) => {
    const clash = await trx
      .selectFrom('dag_run')
      .select(['run_id', 'logical_date'])
      .where('dag_id', '=', dagId)
      .where((eb) => eb.or([eb('run_id', '=', runId), eb('logical_date', '=', input.logicalDate)]))
      .executeTakeFirst();
    if (clash) {
      throw new ConflictError(
        clash.run_id === runId
          ? `DAG '${dagId}' already has a run with id '${runId}'`
          : `DAG '${dagId}' already has a run at logical date ${new Date(input.logicalDate).toISOString()} ('${clash.run_id}')`,
      );
    }
    await trx
      .insertInto('dag_run')
      .values({
        dag_id: dagId,
        run_id: runId,
        run_type: input.runType,
        state: input.state ?? 'queued',
        logical_date: input.logicalDate,
        data_interval_start: input.dataInterval?.start ?? null,
        data_interval_end: input.dataInterval?.end ?? null,
        queued_at: now,
        start_date: null,
        end_date: null,
        external_trigger: input.externalTrigger ? 1 : 0,
        conf: input.conf ? JSON.stringify(input.conf) : null,
        last_scheduling_decision: null,
        creating_job_id: input.creatingJobId ?? null,
        updated_at: now,
      })
      .execute();
    await insertTaskInstances(trx, input.dag, runId, now);
    return trx
      .selectFrom('dag_run')
      .selectAll()
      .where('dag_id', '=', dagId)
      .where('run_id', '=', runId)
      .executeTakeFirstOrThrow();
  });
}

/** TIs for every task of the DAG that the run does not have yet (also used after a DAG changed). */
export async function insertTaskInstances(
  db: Kysely<Database> | Transaction<Database>,
  dag: SerializedDag,
  runId: string,
  now: number,
  existing: ReadonlySet<string> = new Set(),
): Promise<number> {
  const weights = priorityWeights(dag);
  const rows: NewTaskInstance[] = dag.tasks
    .filter((t) => !existing.has(t.taskId))
    .map((t) => ({
      dag_id: dag.dagId,
      run_id: runId,
      task_id: t.taskId,
      map_index: -1,
      state: null,
      try_number: 0,
      max_tries: t.retries,
      start_date: null,
      end_date: null,
      duration: null,
      hostname: null,
      unixname: null,
      pid: null,
      job_id: null,
      pool: t.pool,
      pool_slots: t.poolSlots,
      queue: t.queue,
      priority_weight: weights.get(t.taskId) ?? t.priorityWeight,
      operator: t.operator,
      queued_dttm: null,
      queued_by_job_id: null,
      next_retry_at: null,
      external_executor_id: null,
      rendered_fields: null,
      updated_at: now,
    }));
  // Chunked: a 1,000-task DAG would exceed SQLite's bound-parameter limit in one statement.
  for (let i = 0; i < rows.length; i += 200)
    await db
      .insertInto('task_instance')
      .values(rows.slice(i, i + 200))
      .execute();
  return rows.length;
}
