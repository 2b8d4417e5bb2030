import type { Kysely } from 'kysely';
import type { Database, DagRunRow, DagRunState, TaskInstanceRow } from '../../db/tables.js';
import { NotFoundError } from '../../errors.js';

/** Reads of DAG runs and task instances for pages and the REST API. */
export interface RunListQuery {
  dagId?: string;
  states?: string[];
  limit: number;
  offset: number;
  /** Newest first unless asked otherwise. */
  order?: 'asc' | 'desc';
  /** A column to sort by instead (then by id in the same direction, so pages are stable). */
  sort?: { column: DagRunSortColumn; desc: boolean };
  /** Date filters, all of which must hold. */
  ranges?: RunRange[];
}

export type DagRunSortColumn =
  | 'id'
  | 'dag_id'
  | 'run_id'
  | 'state'
  | 'run_type'
  | 'logical_date'
  | 'start_date'
  | 'end_date'
  | 'updated_at';

export interface RunRange {
  column: 'logical_date' | 'start_date' | 'end_date' | 'updated_at';
  op: '>=' | '<=';
  value: number;
}

export async function listDagRuns(
  db: Kysely<Database>,
  q: RunListQuery,
): Promise<{ rows: DagRunRow[]; total: number }> {
  let base = db.selectFrom('dag_run');
  if (q.dagId) base = base.where('dag_id', '=', q.dagId);
  if (q.states?.length) base = base.where('state', 'in', q.states as DagRunState[]);
  for (const range of q.ranges ?? []) base = base.where(range.column, range.op, range.value);
  const dir = q.sort ? (q.sort.desc ? 'desc' : 'asc') : (q.order ?? 'desc');
  const [rows, total] = await Promise.all([
    base
      .selectAll()
      .orderBy(q.sort?.column ?? 'logical_date', dir)
      .orderBy('id', dir)
      .limit(q.limit)
      .offset(q.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
  ]);
  return { rows, total: Number(total?.n ?? 0) };
}

export async function getDagRun(db: Kysely<Database>, dagId: string, runId: string): Promise<DagRunRow> {
  const run = await db
    .selectFrom('dag_run')
    .selectAll()
    .where('dag_id', '=', dagId)
    .where('run_id', '=', runId)
    .executeTakeFirst();
  if (!run) throw new NotFoundError(`DAG run "${runId}" of DAG "${dagId}" not found.`);
  return run;
}

export interface TaskInstanceQuery {
  dagId?: string;
  runId?: string;
  runIds?: string[];
  states?: string[];
  limit: number;
  offset: number;
}

export async function listTaskInstances(
  db: Kysely<Database>,
  q: TaskInstanceQuery,
): Promise<{ rows: TaskInstanceRow[]; total: number }> {
  let base = db.selectFrom('task_instance');
  if (q.dagId) base = base.where('dag_id', '=', q.dagId);
  if (q.runId) base = base.where('run_id', '=', q.runId);
  if (q.runIds)
    base = q.runIds.length ? base.where('run_id', 'in', q.runIds) : base.where('run_id', '=', '\0none');
  if (q.states?.length) {
    const states = q.states;
    base = base.where((eb) =>
      states.includes('none')
        ? eb.or([eb('state', 'is', null), eb('state', 'in', states as never[])])
        : eb('state', 'in', states as never[]),
    );
  }
  const [rows, total] = await Promise.all([
    base
      .selectAll()
      .orderBy('start_date', 'desc')
      .orderBy('dag_id')
      .orderBy('run_id')
      .orderBy('task_id')
      .orderBy('map_index')
      .limit(q.limit)
      .offset(q.offset)
      .execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
  ]);
  return { rows, total: Number(total?.n ?? 0) };
}

export async function getTaskInstance(
  db: Kysely<Database>,
  dagId: string,
  runId: string,
  taskId: string,
  mapIndex = -1,
): Promise<TaskInstanceRow> {
  const ti = await db
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', dagId)
    .where('run_id', '=', runId)
    .where('task_id', '=', taskId)
    .where('map_index', '=', mapIndex)
    .executeTakeFirst();
  if (!ti) throw new NotFoundError(`Task instance ${dagId}.${taskId} in run "${runId}" not found.`);
  return ti;
}

/** Grid data: the newest `limit` runs and every task instance in them (one query each). */
export async function gridData(db: Kysely<Database>, dagId: string, limit: number) {
  const runs = await db
    .selectFrom('dag_run')
    .selectAll()
    .where('dag_id', '=', dagId)
    .orderBy('logical_date', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  runs.reverse();
  const tis = runs.length
    ? await db
        .selectFrom('task_instance')
        .select([
          'run_id',
          'task_id',
          'map_index',
          'state',
          'try_number',
          'start_date',
          'end_date',
          'duration',
        ])
        .where('dag_id', '=', dagId)
        .where(
          'run_id',
          'in',
          runs.map((r) => r.run_id),
        )
        .execute()
    : [];
  return { runs, tis };
}

export async function listXcoms(
  db: Kysely<Database>,
  dagId: string,
  runId: string,
  taskId?: string,
  limit = 100,
  offset = 0,
) {
  let q = db.selectFrom('xcom').selectAll().where('dag_id', '=', dagId).where('run_id', '=', runId);
  if (taskId) q = q.where('task_id', '=', taskId);
  return q.orderBy('task_id').orderBy('map_index').orderBy('key').limit(limit).offset(offset).execute();
}

/** One task instance's XComs (a mapped instance sees only its own map index). */
export async function listTaskInstanceXcoms(
  db: Kysely<Database>,
  dagId: string,
  runId: string,
  taskId: string,
  mapIndex: number,
) {
  return db
    .selectFrom('xcom')
    .selectAll()
    .where('dag_id', '=', dagId)
    .where('run_id', '=', runId)
    .where('task_id', '=', taskId)
    .where('map_index', '=', mapIndex)
    .orderBy('key')
    .limit(100)
    .execute();
}

/** The expanded instances of a mapped task in one run (map index 0, 1, …). */
export async function listMappedInstances(
  db: Kysely<Database>,
  dagId: string,
  runId: string,
  taskId: string,
): Promise<TaskInstanceRow[]> {
  return db
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', dagId)
    .where('run_id', '=', runId)
    .where('task_id', '=', taskId)
    .where('map_index', '>=', 0)
    .orderBy('map_index')
    .execute();
}
