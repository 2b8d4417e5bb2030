import type { Kysely } from 'kysely';
import type { SerializedTask } from '../dag/serialized.js';
import type { Database, TaskInstanceRow } from '../db/tables.js';
import { transactionWithRetry } from '../db/transient-errors.js';

type MapSource = { kind: 'literal'; length: number } | { kind: 'xcom'; taskId: string; key: string };

/**
 * How many instances a mapped task gets in a run: the product of its expanded arguments' lengths
 * (a literal list's length, or the length of the upstream XCom, which must be a list or an object).
 * Returns an error message when an XCom cannot be mapped over.
 */
export async function mappedLength(
  db: Kysely<Database>,
  task: SerializedTask,
  dagId: string,
  runId: string,
  maxMapLength: number,
): Promise<number | string> {
  const sources = ((task.mapped as { sources?: Record<string, MapSource> } | null)?.sources ?? {}) as Record<
    string,
    MapSource
  >;
  let total = 1;
  for (const [arg, source] of Object.entries(sources)) {
    let length: number;
    if (source.kind === 'literal') {
      length = source.length;
    } else {
      const rows = await db
        .selectFrom('xcom')
        .select(['value', 'map_index'])
        .where('dag_id', '=', dagId)
        .where('run_id', '=', runId)
        .where('task_id', '=', source.taskId)
        .where('key', '=', source.key)
        .execute();
      if (rows.length === 0) return `expand(${arg}): task '${source.taskId}' pushed no XCom '${source.key}'`;
      if (rows.length > 1 || rows[0]!.map_index !== -1) {
        // A mapped upstream: one value per instance, mapped over as a list.
        length = rows.length;
      } else {
        const value = JSON.parse(rows[0]!.value) as unknown;
        if (Array.isArray(value)) length = value.length;
        else if (value && typeof value === 'object') length = Object.keys(value).length;
        else
          return `expand(${arg}): XCom '${source.key}' of task '${source.taskId}' is ${value === null ? 'null' : typeof value}, not a list or object`;
      }
    }
    total *= length;
  }
  if (total > maxMapLength)
    return `expands into ${total} instances, more than core.max_map_length (${maxMapLength})`;
  return total;
}

/**
 * Replace the placeholder (map index -1) by instances 0..n-1, all scheduled; n = 0 → skipped.
 * Guarded on the placeholder still being unscheduled, so two schedulers cannot both expand it.
 */
export async function expandPlaceholder(
  db: Kysely<Database>,
  placeholder: TaskInstanceRow,
  count: number,
  now: number,
): Promise<boolean> {
  if (count === 0) {
    const r = await db
      .updateTable('task_instance')
      .set({ state: 'skipped', start_date: now, end_date: now, updated_at: now })
      .where('dag_id', '=', placeholder.dag_id)
      .where('run_id', '=', placeholder.run_id)
      .where('task_id', '=', placeholder.task_id)
      .where('map_index', '=', -1)
      .where('state', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  const inTransaction = async (fn: (trx: Kysely<Database>) => Promise<boolean>) =>
    db.isTransaction ? fn(db) : transactionWithRetry(db, fn);
  return inTransaction(async (trx) => {
    const r = await trx
      .updateTable('task_instance')
      .set({ map_index: 0, state: 'scheduled', updated_at: now })
      .where('dag_id', '=', placeholder.dag_id)
      .where('run_id', '=', placeholder.run_id)
      .where('task_id', '=', placeholder.task_id)
      .where('map_index', '=', -1)
      .where('state', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    const rows = [];
    for (let i = 1; i < count; i++)
      rows.push({ ...placeholder, map_index: i, state: 'scheduled' as const, updated_at: now });
    for (let i = 0; i < rows.length; i += 100)
      await trx
        .insertInto('task_instance')
        .values(rows.slice(i, i + 100))
        .execute();
    return true;
  });
}
