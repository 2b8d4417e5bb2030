import { CompiledQuery, sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { MetadataDb } from '../open.js';
import { queryTemplate, templatesByShape } from '../query-template.js';
import { onBatchConnection, sendStatementBatch } from '../statement-batch.js';
import type { Database, TaskInstanceRow } from '../tables.js';

/**
 * The scheduler's queue step against the database: read the scheduled TIs, the pools and what is
 * active; let the scheduler's chooser pick (QueueChooser); move the picked TIs to queued with the
 * next try number. On MySQL with statement batches this is two requests; with row locking it is
 * one transaction; otherwise one statement per request.
 */
export interface QueueBatchOptions {
  now: number;
  jobId: number | null;
  /** Lock the candidate rows (several schedulers). */
  skipLocked: boolean;
}

/** The policy half of the queue step (slots, pools, maxActiveTasks), in src/scheduler/. */
export interface QueueChooser {
  /** How many candidates to read first. */
  readonly firstLimit: number;
  /**
   * Choose from `first`; while that leaves slots free and there may be more, read deeper (`read`)
   * and choose again.
   */
  chooseReadingDeeper(
    first: readonly QueueCandidate[],
    pools: readonly [string, number][],
    active: readonly ActiveCount[],
    read: (limit: number) => Promise<QueueCandidate[]>,
  ): Promise<QueueCandidate[]>;
}

export type QueueCandidate = Pick<
  TaskInstanceRow,
  | 'dag_id'
  | 'run_id'
  | 'task_id'
  | 'map_index'
  | 'try_number'
  | 'pool'
  | 'pool_slots'
  | 'priority_weight'
  | 'queue'
  | 'max_tries'
  | 'operator'
>;
export interface ActiveCount {
  dag_id: string;
  pool: string;
  n: number;
  used: number;
}

/** The scheduled TIs in queueing order, highest priority first (locked with several schedulers). */
function candidatesQuery(db: Kysely<Database>, limit: number, lock: boolean): CompiledQuery {
  return (lock ? lockedQueueCandidatesTemplate : candidatesTemplate).bind(db, { limit });
}

const candidatesTemplate = queryTemplate(['limit'], (db, v) => candidatesBuilder(db, v.limit, false));
const lockedQueueCandidatesTemplate = queryTemplate(['limit'], (db, v) =>
  candidatesBuilder(db, v.limit, true),
);

function candidatesBuilder(db: Kysely<Database>, limit: number, lock: boolean) {
  const q = db
    .selectFrom('task_instance')
    .select([
      'dag_id',
      'run_id',
      'task_id',
      'map_index',
      'try_number',
      'pool',
      'pool_slots',
      'priority_weight',
      'queue',
      'max_tries',
      'operator',
    ])
    .where('state', '=', 'scheduled')
    // A paused DAG's scheduled tasks wait until it is unpaused (as in Airflow).
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('dag')
            .select('dag.dag_id')
            .whereRef('dag.dag_id', '=', 'task_instance.dag_id')
            .where('dag.is_paused', '=', 1),
        ),
      ),
    )
    .orderBy('priority_weight', 'desc')
    .orderBy('updated_at')
    .limit(limit);
  return lock ? q.forUpdate().skipLocked() : q;
}

/** One aggregate gives both what each pool has in use and what each DAG has running. */
const activeTemplate = queryTemplate([], (db) =>
  db
    .selectFrom('task_instance')
    .select(['dag_id', 'pool', sql<number>`count(*)`.as('n'), sql<number>`sum(pool_slots)`.as('used')])
    .where('state', 'in', ['queued', 'running'])
    .groupBy(['dag_id', 'pool']),
);
const activeQuery = (db: Kysely<Database>) => activeTemplate.bind(db, {});

const poolsTemplate = queryTemplate([], (db) => db.selectFrom('slot_pool').select(['pool', 'slots']));
const poolsQuery = (db: Kysely<Database>) => poolsTemplate.bind(db, {});

/** The rows of one group (one run and map index; see groupByRun). */
function inGroup(group: { dag_id: string; run_id: string; map_index: number; taskIds: readonly string[] }) {
  return (eb: ExpressionBuilder<Database, 'task_instance'>) =>
    eb.and([
      eb('dag_id', '=', group.dag_id),
      eb('run_id', '=', group.run_id),
      eb('map_index', '=', group.map_index),
      eb('task_id', 'in', [...group.taskIds]),
    ]);
}

/** Queue one run's chosen TIs: the next try number, guarded by the state read. */
function queueGroupQuery(
  db: Kysely<Database>,
  group: readonly QueueCandidate[],
  options: QueueBatchOptions,
): CompiledQuery {
  const first = group[0]!;
  return queueGroupTemplate(group.length).bind(db, {
    dagId: first.dag_id,
    runId: first.run_id,
    mapIndex: first.map_index,
    now: options.now,
    jobId: options.jobId,
    ...Object.fromEntries(group.map((ti, i) => [`task${i}`, ti.task_id])),
  });
}

/** One template per group size (the task ids are an IN list). */
const queueGroupTemplate = templatesByShape(String, (size: number) => {
  const taskNames = Array.from({ length: size }, (_, i) => `task${i}`);
  return queryTemplate(['dagId', 'runId', 'mapIndex', 'now', 'jobId', ...taskNames], (db, v) => {
    const value = (name: string) => v[name] as never;
    return db
      .updateTable('task_instance')
      .set({
        state: 'queued',
        try_number: sql<number>`try_number + 1`,
        queued_dttm: value('now'),
        queued_by_job_id: value('jobId'),
        updated_at: value('now'),
      })
      .where(
        inGroup({
          dag_id: value('dagId'),
          run_id: value('runId'),
          map_index: value('mapIndex'),
          taskIds: taskNames.map(value),
        }),
      )
      .where('state', '=', 'scheduled');
  });
});

/** Of a group whose update matched fewer rows than asked, the TIs this loop did queue. */
async function queuedOfGroup(
  db: Kysely<Database>,
  group: readonly QueueCandidate[],
  options: QueueBatchOptions,
): Promise<QueueCandidate[]> {
  const first = group[0]!;
  const got = await db
    .selectFrom('task_instance')
    .select(['task_id', 'try_number'])
    .where(inGroup({ ...first, taskIds: group.map((t) => t.task_id) }))
    .where('state', '=', 'queued')
    .where('queued_dttm', '=', options.now)
    .execute();
  const ok = new Map(got.map((g) => [g.task_id, g.try_number]));
  return group.filter((ti) => ok.get(ti.task_id) === ti.try_number + 1);
}

/** The chosen TIs by run: one UPDATE each. */
function groupByRun(chosen: readonly QueueCandidate[]): QueueCandidate[][] {
  const byRun = new Map<string, QueueCandidate[]>();
  for (const ti of chosen) {
    const k = `${ti.dag_id}\u0000${ti.run_id}\u0000${ti.map_index}`;
    const list = byRun.get(k);
    if (list) list.push(ti);
    else byRun.set(k, [ti]);
  }
  return [...byRun.values()];
}

/**
 * Pick and queue one batch of scheduled TIs (see the file comment). A queued TI gets the next try
 * number; the runner claims exactly that try, so a TI is never run twice.
 */
export async function queueBatch(
  store: MetadataDb,
  chooser: QueueChooser,
  options: QueueBatchOptions,
): Promise<QueueCandidate[]> {
  const db = store.kysely;
  // MetadataDb.batches (MySQL): pick in two requests instead of five or six.
  if (store.batches) return pickInBatches(store.batches, db, chooser, options);
  return options.skipLocked
    ? db.transaction().execute((trx) => pickInTransaction(trx, chooser, options))
    : pickInTransaction(db, chooser, options);
}

/** Put a queued TI back to scheduled (the executor refused it), so it is not stuck in queued. */
export async function requeueTaskInstance(
  db: Kysely<Database>,
  ti: QueueCandidate,
  now: number,
): Promise<void> {
  await db
    .updateTable('task_instance')
    .set({ state: 'scheduled', try_number: ti.try_number, updated_at: now })
    .where('dag_id', '=', ti.dag_id)
    .where('run_id', '=', ti.run_id)
    .where('task_id', '=', ti.task_id)
    .where('map_index', '=', ti.map_index)
    .where('state', '=', 'queued')
    .where('try_number', '=', ti.try_number + 1)
    .execute();
}

/**
 * Read, choose and queue with one statement per request (inside a transaction when the rows are
 * locked). Safe without per-row guards beyond state: with row locking the rows are locked by the
 * SELECT, and without it only one scheduler runs (job.ts refuses a second), so the try numbers
 * read are the ones updated.
 */
async function pickInTransaction(
  db: Kysely<Database>,
  chooser: QueueChooser,
  options: QueueBatchOptions,
): Promise<QueueCandidate[]> {
  const read = async (limit: number) =>
    (await db.executeQuery<QueueCandidate>(candidatesQuery(db, limit, options.skipLocked))).rows;
  const candidates = await read(chooser.firstLimit);
  if (candidates.length === 0) return [];
  const [pools, active] = await Promise.all([
    poolSlots(db, options.now),
    db.executeQuery<ActiveCount>(activeQuery(db)).then((r) => r.rows),
  ]);
  const chosen = await chooser.chooseReadingDeeper(candidates, pools, active, read);
  const queued: QueueCandidate[] = [];
  for (const group of groupByRun(chosen)) {
    const r = await db.executeQuery(queueGroupQuery(db, group, options));
    queued.push(
      ...(Number(r.numAffectedRows) === group.length ? group : await queuedOfGroup(db, group, options)),
    );
  }
  return queued;
}

/**
 * The same pick in two requests on MySQL: (begin,) the candidates, the pool sizes and the
 * aggregate; then the updates (and commit). On a busy host each request waits for the CPU on
 * both sides, and the scheduler's loop is the one thing every task waits for.
 */
async function pickInBatches(
  batches: Kysely<Database>,
  db: Kysely<Database>,
  chooser: QueueChooser,
  options: QueueBatchOptions,
): Promise<QueueCandidate[]> {
  const lock = options.skipLocked;
  // The connection starts outside any transaction: onBatchConnection rolls it back after a failure.
  const begin = lock ? [CompiledQuery.raw('start transaction')] : [];
  const end = lock ? [CompiledQuery.raw('commit')] : [];
  return onBatchConnection(batches, async (connection) => {
    // Pool sizes come from the same one-second cache as poolSlots(); read with the rest when stale.
    const cachedPools = freshPools(db, options.now);
    const first = await sendStatementBatch(connection, [
      ...begin,
      candidatesQuery(db, chooser.firstLimit, lock),
      activeQuery(db),
      ...(cachedPools ? [] : [poolsQuery(db)]),
    ]);
    const [candidates, active, poolRows] = first.slice(begin.length) as [
      QueueCandidate[],
      ActiveCount[],
      { pool: string; slots: number }[] | undefined,
    ];
    const read = async (limit: number): Promise<QueueCandidate[]> =>
      (await connection.executeQuery<QueueCandidate>(candidatesQuery(db, limit, lock))).rows;
    const pools = cachedPools ?? rememberPools(db, poolRows ?? [], options.now);
    const chosen = await chooser.chooseReadingDeeper(candidates, pools, active, read);
    const groups = groupByRun(chosen);
    if (groups.length === 0) {
      if (lock) await connection.executeQuery(CompiledQuery.raw('rollback'));
      return [];
    }
    const written = await sendStatementBatch(connection, [
      ...groups.map((group) => queueGroupQuery(db, group, options)),
      ...end,
    ]);
    const queued: QueueCandidate[] = [];
    for (const [i, group] of groups.entries()) {
      const affected = Number((written[i] as { affectedRows?: unknown } | undefined)?.affectedRows);
      queued.push(...(affected === group.length ? group : await queuedOfGroup(connection, group, options)));
    }
    return queued;
  });
}

/**
 * Pool sizes change rarely (`pools set`): read them at most once a second. Kept per database (a
 * transaction's handle shares its database's adapter), as one process may hold several.
 */
const poolCaches = new WeakMap<object, { at: number; pools: [string, number][] }>();
const poolCacheKey = (db: Kysely<Database>): object => db.getExecutor().adapter;

async function poolSlots(db: Kysely<Database>, now: number): Promise<[string, number][]> {
  return (
    freshPools(db, now) ??
    rememberPools(db, (await db.executeQuery<{ pool: string; slots: number }>(poolsQuery(db))).rows, now)
  );
}

/** The cached pool sizes if read within the last second. */
function freshPools(db: Kysely<Database>, now: number): [string, number][] | undefined {
  const cached = poolCaches.get(poolCacheKey(db));
  return cached && now - cached.at < 1000 && now >= cached.at ? cached.pools : undefined;
}

/** Pool sizes as read (a negative size is unlimited), kept for poolSlots. */
function rememberPools(
  db: Kysely<Database>,
  rows: readonly { pool: string; slots: number }[],
  now: number,
): [string, number][] {
  const pools: [string, number][] = rows.map((p) => [p.pool, p.slots < 0 ? Infinity : p.slots]);
  poolCaches.set(poolCacheKey(db), { at: now, pools });
  return pools;
}
