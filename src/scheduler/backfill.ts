import type { Kysely } from 'kysely';
import { createDagRun } from '../dag-runs/create-dag-run.js';
import { getSerializedDag } from '../dag-runs/load-dag.js';
import type { MetadataDb } from '../db/index.js';
import type { Database, DagRunRow } from '../db/tables.js';
import { ValidationError } from '../errors.js';
import { dagTimetable, restrictionOf, runsBetween, type NextRunInfo } from '../timetables/index.js';

export interface BackfillOptions {
  start: number;
  end: number;
  dryRun?: boolean;
  /** Delete existing runs in the range (and their task instances) and create them afresh. */
  resetDagRuns?: boolean;
  /** Existing runs: clear their failed task instances so they run again. */
  rerunFailedTasks?: boolean;
  conf?: Record<string, unknown> | null;
}

export interface BackfillPlan {
  intervals: NextRunInfo[];
  created: DagRunRow[];
  /** Runs that existed and were left as they were (or re-queued for failed tasks). */
  existing: string[];
}

/**
 * `dags backfill -s -e`: a run for every schedule interval whose logical date is within
 * [start, end] (catchup forced, the DAG's own start/end dates respected), created as backfill runs
 * that the scheduler then runs like any other (maxActiveRuns applies).
 */
export async function backfill(
  store: MetadataDb,
  dagId: string,
  options: BackfillOptions,
): Promise<BackfillPlan> {
  if (options.end < options.start)
    throw new ValidationError('backfill: the end date is before the start date');
  const { kysely } = store;
  const dag = await getSerializedDag(kysely, dagId);
  if (!dag.schedule)
    throw new ValidationError(
      `DAG '${dagId}' has no schedule; there is nothing to backfill (trigger it instead)`,
    );
  const intervals = runsBetween(dagTimetable(dag), restrictionOf(dag), options.start, options.end);
  const plan: BackfillPlan = { intervals, created: [], existing: [] };
  if (options.dryRun) return plan;
  for (const info of intervals) {
    const existing = await kysely
      .selectFrom('dag_run')
      .selectAll()
      .where('dag_id', '=', dagId)
      .where('logical_date', '=', info.logicalDate)
      .executeTakeFirst();
    if (existing && options.resetDagRuns) {
      await deleteRun(kysely, dagId, existing.run_id);
    } else if (existing) {
      plan.existing.push(existing.run_id);
      if (options.rerunFailedTasks)
        await rerunFailed(
          kysely,
          dag.tasks.map((t) => [t.taskId, t.retries] as const),
          existing,
        );
      continue;
    }
    plan.created.push(
      await createDagRun(kysely, {
        dag,
        runType: 'backfill',
        logicalDate: info.logicalDate,
        dataInterval: info.dataInterval,
        conf: options.conf ?? null,
      }),
    );
  }
  return plan;
}

async function deleteRun(db: Kysely<Database>, dagId: string, runId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const table of ['xcom', 'task_reschedule', 'task_instance'] as const)
      await trx.deleteFrom(table).where('dag_id', '=', dagId).where('run_id', '=', runId).execute();
    await trx.deleteFrom('dag_run').where('dag_id', '=', dagId).where('run_id', '=', runId).execute();
  });
}

async function rerunFailed(
  db: Kysely<Database>,
  retries: (readonly [string, number])[],
  run: DagRunRow,
): Promise<void> {
  const failed = await db
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', run.dag_id)
    .where('run_id', '=', run.run_id)
    .where('state', 'in', ['failed', 'upstream_failed'])
    .execute();
  if (failed.length === 0) return;
  const byTask = new Map(retries);
  const now = Date.now();
  for (const ti of failed) {
    await db
      .updateTable('task_instance')
      .set({
        state: null,
        max_tries: ti.try_number + (byTask.get(ti.task_id) ?? 0),
        end_date: null,
        updated_at: now,
      })
      .where('dag_id', '=', ti.dag_id)
      .where('run_id', '=', ti.run_id)
      .where('task_id', '=', ti.task_id)
      .where('map_index', '=', ti.map_index)
      .execute();
  }
  await db
    .updateTable('dag_run')
    .set({ state: 'queued', end_date: null, queued_at: now, updated_at: now })
    .where('id', '=', run.id)
    .execute();
}
