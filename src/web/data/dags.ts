import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { containsText } from './like.js';
import type { Database, DagRow } from '../../db/tables.js';
import { NotFoundError } from '../../errors.js';
import { getDagRow } from '../../dag-runs/index.js';
import type { SerializedDag } from '../../dag/serialized.js';
import { nextRunAfter } from '../../scheduler/next-dagrun.js';

/**
 * Reads behind the DAG list and DAG pages. Every aggregate is one GROUP BY over the page's DAG ids,
 * so a page costs a fixed number of queries however many DAGs, runs and task instances exist.
 */
export type DagListTab = 'all' | 'active' | 'paused';

/** Columns the DAG list sorts by. */
export const DAG_SORT_KEYS = ['dag_id', 'owners', 'last_run', 'next_run'] as const;
export type DagSortKey = (typeof DAG_SORT_KEYS)[number];

export interface DagListQuery {
  tab: DagListTab;
  search?: string;
  tags?: string[];
  limit: number;
  offset: number;
  sort?: DagSortKey;
  order?: 'asc' | 'desc';
}

export interface DagListEntry {
  dag: DagRow;
  tags: string[];
  runCounts: Record<string, number>;
  lastRun: { runId: string; state: string; logicalDate: number; startDate: number | null } | null;
  recentTaskCounts: Record<string, number>;
  /**
   * When the schedule would next run: the scheduler's dag.next_dagrun, or for a paused DAG (which
   * the scheduler does not look at) what the timetable says, marked `ifUnpaused`.
   */
  nextRun: { logicalDate: number; ifUnpaused: boolean } | null;
}

export interface DagListPage {
  entries: DagListEntry[];
  counts: { all: number; active: number; paused: number };
  totalEntries: number;
}

function filtered(db: Kysely<Database>, q: Pick<DagListQuery, 'search' | 'tags'>) {
  let query = db.selectFrom('dag').where('dag.is_active', '=', 1);
  if (q.search) {
    const text = q.search;
    query = query.where((eb) =>
      eb.or([containsText(sql.ref('dag.dag_id'), text), containsText(sql.ref('dag.owners'), text)]),
    );
  }
  if (q.tags && q.tags.length > 0) {
    const tags = q.tags;
    query = query.where('dag.dag_id', 'in', (eb) =>
      eb.selectFrom('dag_tag').select('dag_tag.dag_id').where('dag_tag.name', 'in', tags),
    );
  }
  return query;
}

export async function listDags(db: Kysely<Database>, q: DagListQuery): Promise<DagListPage> {
  let pageQuery = filtered(db, q).selectAll('dag');
  if (q.tab === 'active') pageQuery = pageQuery.where('dag.is_paused', '=', 0);
  if (q.tab === 'paused') pageQuery = pageQuery.where('dag.is_paused', '=', 1);
  const order = q.order === 'desc' ? 'desc' : 'asc';
  // Empty values last either way, then by id so pages are stable.
  const lastRun = sql`(select max(r.logical_date) from dag_run r where r.dag_id = dag.dag_id)`;
  if (q.sort === 'owners') pageQuery = pageQuery.orderBy('dag.owners', order);
  if (q.sort === 'next_run')
    pageQuery = pageQuery
      .orderBy(sql`case when dag.next_dagrun is null then 1 else 0 end`)
      .orderBy('dag.next_dagrun', order);
  if (q.sort === 'last_run')
    pageQuery = pageQuery
      .orderBy(sql`case when ${lastRun} is null then 1 else 0 end`)
      .orderBy(sql`${lastRun} ${sql.raw(order)}`);
  pageQuery = pageQuery.orderBy('dag.dag_id', q.sort === 'dag_id' || !q.sort ? order : 'asc');
  const [countRows, dags] = await Promise.all([
    filtered(db, q)
      .select(['dag.is_paused', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('dag.is_paused')
      .execute(),
    pageQuery.limit(q.limit).offset(q.offset).execute(),
  ]);
  const paused = Number(countRows.find((r) => Number(r.is_paused) === 1)?.n ?? 0);
  const active = Number(countRows.find((r) => Number(r.is_paused) === 0)?.n ?? 0);
  const counts = { all: paused + active, active, paused };
  const entries = await decorate(db, dags);
  return { entries, counts, totalEntries: counts[q.tab] };
}

/** Tags, run state counts, last run and recent task state counts for a page of DAGs. */
export async function decorate(db: Kysely<Database>, dags: DagRow[]): Promise<DagListEntry[]> {
  if (dags.length === 0) return [];
  const ids = dags.map((d) => d.dag_id);
  const [tagRows, runCountRows, latestRuns] = await Promise.all([
    db.selectFrom('dag_tag').select(['dag_id', 'name']).where('dag_id', 'in', ids).orderBy('name').execute(),
    db
      .selectFrom('dag_run')
      .select(['dag_id', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('dag_id', 'in', ids)
      .groupBy(['dag_id', 'state'])
      .execute(),
    // Each DAG's newest run (highest id), in the same round trip as the others.
    db
      .selectFrom('dag_run')
      .select(['dag_id', 'run_id', 'state', 'logical_date', 'start_date'])
      .where('id', 'in', (eb) =>
        eb
          .selectFrom(
            eb
              .selectFrom('dag_run')
              .select((e) => e.fn.max('id').as('newest'))
              .where('dag_id', 'in', ids)
              .groupBy('dag_id')
              .as('latest'),
          )
          .select('latest.newest'),
      )
      .execute(),
  ]);
  // IN on both key columns uses the primary key's prefix; pairs that are not a DAG's latest run
  // (run ids repeat across DAGs) are dropped below.
  const tiRows = latestRuns.length
    ? await db
        .selectFrom('task_instance')
        .select(['dag_id', 'run_id', 'state', (eb) => eb.fn.countAll<number>().as('n')])
        .where(
          'dag_id',
          'in',
          latestRuns.map((r) => r.dag_id),
        )
        .where('run_id', 'in', [...new Set(latestRuns.map((r) => r.run_id))])
        .groupBy(['dag_id', 'run_id', 'state'])
        .execute()
    : [];
  const latestByDag = new Map(latestRuns.map((r) => [r.dag_id, r]));
  const tagsByDag = groupBy(tagRows, (t) => t.dag_id);
  const runCountsByDag = groupBy(runCountRows, (r) => r.dag_id);
  const tiCountsByDag = groupBy(
    tiRows.filter((r) => latestByDag.get(r.dag_id)?.run_id === r.run_id),
    (r) => r.dag_id,
  );
  const pausedNext = await pausedNextRuns(
    db,
    dags.filter((d) => d.next_dagrun == null && d.is_paused && d.schedule_interval != null),
  );
  return dags.map((dag) => {
    const last = latestByDag.get(dag.dag_id);
    const computed = pausedNext.get(dag.dag_id);
    return {
      dag,
      tags: (tagsByDag.get(dag.dag_id) ?? []).map((t) => t.name),
      runCounts: Object.fromEntries(
        (runCountsByDag.get(dag.dag_id) ?? []).map((r) => [r.state, Number(r.n)]),
      ),
      lastRun: last
        ? {
            runId: last.run_id,
            state: last.state,
            logicalDate: Number(last.logical_date),
            startDate: last.start_date == null ? null : Number(last.start_date),
          }
        : null,
      recentTaskCounts: Object.fromEntries(
        (tiCountsByDag.get(dag.dag_id) ?? []).map((r) => [r.state ?? 'none', Number(r.n)]),
      ),
      nextRun:
        dag.next_dagrun != null
          ? { logicalDate: Number(dag.next_dagrun), ifUnpaused: !!dag.is_paused }
          : computed != null
            ? { logicalDate: computed, ifUnpaused: true }
            : null,
    };
  });
}

/**
 * The next logical date of paused scheduled DAGs, from their timetables and newest automated
 * runs (two queries for the page, whatever its size).
 */
async function pausedNextRuns(db: Kysely<Database>, dags: DagRow[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!dags.length) return out;
  const ids = dags.map((d) => d.dag_id);
  const [serialized, lastRuns] = await Promise.all([
    db.selectFrom('serialized_dag').select(['dag_id', 'data']).where('dag_id', 'in', ids).execute(),
    db
      .selectFrom('dag_run')
      .select(['dag_id', 'data_interval_start', 'data_interval_end', 'logical_date'])
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('dag_run')
          .select((e) => e.fn.max('id').as('newest'))
          .where('dag_id', 'in', ids)
          .where('run_type', 'in', ['scheduled', 'backfill'])
          .groupBy('dag_id'),
      )
      .execute(),
  ]);
  const lastByDag = new Map(lastRuns.map((r) => [r.dag_id, r]));
  const now = Date.now();
  for (const row of serialized) {
    try {
      const dag = JSON.parse(row.data) as SerializedDag;
      const last = lastByDag.get(row.dag_id);
      const info = nextRunAfter(
        dag,
        last
          ? {
              start: Number(last.data_interval_start ?? last.logical_date),
              end: Number(last.data_interval_end ?? last.logical_date),
            }
          : null,
        now,
      );
      if (info) out.set(row.dag_id, info.logicalDate);
    } catch {
      // A DAG whose timetable cannot be read shows no next run; its page says why.
    }
  }
  return out;
}

/** The DAG row and its serialized form, read through the shared loaders (cached per dag_hash). */
export { getDagRow as getDag, getSerializedDag } from '../../dag-runs/index.js';

export async function getDagTags(db: Kysely<Database>, dagId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('dag_tag')
    .select('name')
    .where('dag_id', '=', dagId)
    .orderBy('name')
    .execute();
  return rows.map((r) => r.name);
}

export async function getDagSource(
  db: Kysely<Database>,
  dagId: string,
): Promise<{ fileloc: string; source: string }> {
  const dag = await getDagRow(db, dagId);
  const code = await db
    .selectFrom('dag_code')
    .select('source_code')
    .where('fileloc', '=', dag.fileloc)
    .executeTakeFirst();
  if (!code) throw new NotFoundError(`No source stored for ${dag.fileloc}.`);
  return (await authoredSource(dag.fileloc)) ?? { fileloc: dag.fileloc, source: code.source_code };
}

/**
 * The TypeScript a compiled DAG file was built from (the bundled examples run from dist/*.js):
 * found through the file's source map, from its embedded sources or the file it names. Null when
 * the file is not compiled output or its source cannot be found.
 */
async function authoredSource(fileloc: string): Promise<{ fileloc: string; source: string } | null> {
  if (!fileloc.endsWith('.js')) return null;
  try {
    const mapPath = `${fileloc}.map`;
    const map = JSON.parse(await readFile(mapPath, 'utf8')) as {
      sources?: string[];
      sourcesContent?: string[];
    };
    const original = map.sources?.[0];
    if (!original) return null;
    const path = resolve(dirname(mapPath), original);
    const embedded = map.sourcesContent?.[0];
    return { fileloc: path, source: embedded ?? (await readFile(path, 'utf8')) };
  } catch {
    return null;
  }
}

export async function allTags(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('dag_tag').select('name').distinct().orderBy('name').execute();
  return rows.map((r) => r.name);
}

export async function listImportErrors(
  db: Kysely<Database>,
  limit = 100,
  offset = 0,
  sort: { column: 'id' | 'timestamp' | 'filename'; desc: boolean } = { column: 'timestamp', desc: true },
) {
  const dir = sort.desc ? 'desc' : 'asc';
  const rows = await db
    .selectFrom('import_error')
    .selectAll()
    .orderBy(sort.column, dir)
    .orderBy('id', dir)
    .limit(limit)
    .offset(offset)
    .execute();
  const total = await db
    .selectFrom('import_error')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst();
  return { rows, total: Number(total?.n ?? 0) };
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}

/** Tags of a page of DAGs (what the REST API's DAG objects carry), one query. */
export async function tagsOf(db: Kysely<Database>, dagIds: string[]): Promise<Map<string, string[]>> {
  if (dagIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('dag_tag')
    .select(['dag_id', 'name'])
    .where('dag_id', 'in', dagIds)
    .orderBy('name')
    .execute();
  const out = new Map<string, string[]>();
  for (const r of rows) (out.get(r.dag_id) ?? out.set(r.dag_id, []).get(r.dag_id)!).push(r.name);
  return out;
}
