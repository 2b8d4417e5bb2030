import type { Kysely } from 'kysely';
import type { Database, DagRunRow } from '../db/tables.js';

export interface RunSelector {
  runId?: string;
  /** Inclusive logical-date bounds (epoch ms). */
  start?: number;
  end?: number;
}

export async function selectRuns(
  db: Kysely<Database>,
  dagId: string,
  sel: RunSelector,
): Promise<DagRunRow[]> {
  let q = db.selectFrom('dag_run').selectAll().where('dag_id', '=', dagId);
  if (sel.runId !== undefined) q = q.where('run_id', '=', sel.runId);
  if (sel.start !== undefined) q = q.where('logical_date', '>=', sel.start);
  if (sel.end !== undefined) q = q.where('logical_date', '<=', sel.end);
  return q.orderBy('logical_date').execute();
}
