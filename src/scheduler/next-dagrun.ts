import type { Kysely } from 'kysely';
import type { SerializedDag } from '../dag/serialized.js';
import type { Database } from '../db/tables.js';
import { dagTimetable, restrictionOf, type NextRunInfo } from '../timetables/index.js';

/** The interval of the DAG's newest scheduled/backfill run (what the timetable continues from). */
export async function lastAutomatedInterval(
  db: Kysely<Database>,
  dagId: string,
): Promise<{ start: number; end: number } | null> {
  const row = await db
    .selectFrom('dag_run')
    .select(['data_interval_start', 'data_interval_end', 'logical_date'])
    .where('dag_id', '=', dagId)
    .where('run_type', 'in', ['scheduled', 'backfill'])
    .orderBy('logical_date', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  return {
    start: row.data_interval_start ?? row.logical_date,
    end: row.data_interval_end ?? row.logical_date,
  };
}

/** The next run the schedule wants after the given last one. */
export function nextRunAfter(
  dag: SerializedDag,
  last: { start: number; end: number } | null,
  now: number,
): NextRunInfo | null {
  return dagTimetable(dag).nextDagRunInfo(last, restrictionOf(dag), now);
}

/** Store (or clear) dag.next_dagrun*, the columns the scheduler, `dags list` and the UI read. */
export async function writeNextDagRun(
  db: Kysely<Database>,
  dagId: string,
  info: NextRunInfo | null,
): Promise<void> {
  await db
    .updateTable('dag')
    .set({
      next_dagrun: info?.logicalDate ?? null,
      next_dagrun_data_interval_start: info?.dataInterval.start ?? null,
      next_dagrun_data_interval_end: info?.dataInterval.end ?? null,
      next_dagrun_create_after: info?.runAfter ?? null,
    })
    .where('dag_id', '=', dagId)
    .execute();
}

/** Recompute dag.next_dagrun* from the runs that exist (after a parse, a schedule change, a backfill). */
export async function refreshNextDagRun(
  db: Kysely<Database>,
  dag: SerializedDag,
  now = Date.now(),
): Promise<NextRunInfo | null> {
  const info = nextRunAfter(dag, await lastAutomatedInterval(db, dag.dagId), now);
  await writeNextDagRun(db, dag.dagId, info);
  return info;
}
