import { CompiledQuery, sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { queryTemplate, templatesByShape } from '../db/query-template.js';
import { onBatchConnection, sendStatementBatch } from '../db/statement-batch.js';
import type { Database, TaskInstanceRow } from '../db/tables.js';
import type { RunContextColumns } from '../dag-runs/run-info.js';
import type { Executor, TaskWorkItem } from '../executors/executor.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { DagCache } from './dag-cache.js';

export const DEFAULT_POOL = 'default_pool';
export const DEFAULT_POOL_SLOTS = 128;
/** The deepest look into the scheduled TIs per loop when limits hold back the first ones. */
const MAX_CANDIDATES = 512;

export interface QueueOptions {
  now: number;
  jobId: number | null;
  /** Lock the candidate rows (several schedulers). */
  skipLocked: boolean;
  /** MetadataDb.batches (MySQL): pick in two requests instead of five or six. */
  batches?: Kysely<Database> | null;
  /** The context columns of a running run, when the scheduler holds them (sent with the task). */
  runContext?: (dagId: string, runId: string) => RunContextColumns | undefined;
  log: Logger;
}

type Candidate = Pick<
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
interface ActiveCount {
  dag_id: string;
  pool: string;
  n: number;
  used: number;
}

/** The scheduled TIs in queueing order, highest priority first (locked with several schedulers). */
function candidatesQuery(db: Kysely<Database>, limit: number, lock: boolean): CompiledQuery {
  return (lock ? lockedCandidatesTemplate : candidatesTemplate).bind(db, { limit });
}

const candidatesTemplate = queryTemplate(['limit'], (db, v) => candidatesBuilder(db, v.limit, false));
const lockedCandidatesTemplate = queryTemplate(['limit'], (db, v) => candidatesBuilder(db, v.limit, true));

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
  group: readonly Candidate[],
  options: QueueOptions,
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
  group: readonly Candidate[],
  options: QueueOptions,
): Promise<Candidate[]> {
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
function groupByRun(chosen: readonly Candidate[]): Candidate[][] {
  const byRun = new Map<string, Candidate[]>();
  for (const ti of chosen) {
    const k = `${ti.dag_id}\u0000${ti.run_id}\u0000${ti.map_index}`;
    const list = byRun.get(k);
    if (list) list.push(ti);
    else byRun.set(k, [ti]);
  }
  return [...byRun.values()];
}

/**
 * Hand scheduled task instances to the executor, highest priority first, within the executor's
 * free slots (core.parallelism), each pool's free slots and each DAG's maxActiveTasks. A queued TI
 * gets the next try number; the runner claims exactly that try, so a TI is never run twice.
 */
export async function queueScheduledTasks(
  db: Kysely<Database>,
  executor: Executor,
  dags: DagCache,
  options: QueueOptions,
): Promise<number> {
  const free = executor.openSlots;
  if (free <= 0) return 0;
  const chooser = new Chooser(dags, free, options);
  const queued = options.batches
    ? await pickInBatches(options.batches, db, chooser, options)
    : options.skipLocked
      ? await db.transaction().execute((trx) => pickInTransaction(trx, chooser, options))
      : await pickInTransaction(db, chooser, options);
  for (const ti of queued) {
    const cached = await dags.get(ti.dag_id, options.now);
    const task = cached?.graph.byId.get(ti.task_id);
    const item: TaskWorkItem = {
      key: {
        dagId: ti.dag_id,
        runId: ti.run_id,
        taskId: ti.task_id,
        mapIndex: ti.map_index,
        tryNumber: ti.try_number + 1,
      },
      fileloc: cached?.dag.fileloc ?? '',
      queue: ti.queue,
      priorityWeight: ti.priority_weight,
      poolSlots: ti.pool_slots,
      executionTimeoutMs: task?.executionTimeoutMs ?? null,
      queuedTi: {
        maxTries: ti.max_tries,
        operator: ti.operator,
        dagRun: options.runContext?.(ti.dag_id, ti.run_id),
      },
    };
    try {
      await executor.queue(item);
    } catch (error) {
      // The executor refused (stopping, duplicate): put the TI back so it is not stuck in queued.
      options.log.error(`Executor refused ${ti.dag_id}.${ti.task_id}: ${errorMessage(error)}`);
      await db
        .updateTable('task_instance')
        .set({ state: 'scheduled', try_number: ti.try_number, updated_at: options.now })
        .where('dag_id', '=', ti.dag_id)
        .where('run_id', '=', ti.run_id)
        .where('task_id', '=', ti.task_id)
        .where('map_index', '=', ti.map_index)
        .where('state', '=', 'queued')
        .where('try_number', '=', ti.try_number + 1)
        .execute();
    }
  }
  return queued.length;
}

/**
 * Picks which candidates to queue within the executor's free slots, the pools' free slots and each
 * DAG's maxActiveTasks. A few candidates per free slot are usually enough (a busy scheduler
 * queues one or two per loop); only when pools or maxActiveTasks hold back too many of them is
 * the look taken deeper.
 */
class Chooser {
  readonly firstLimit: number;
  private readonly warnedPools = new Set<string>();

  constructor(
    private readonly dags: DagCache,
    private readonly free: number,
    private readonly options: QueueOptions,
  ) {
    this.firstLimit = Math.max(free * 2, 8);
  }

  /**
   * Choose from the first `firstLimit` candidates; while that leaves slots free and there may be
   * more, read deeper (`read`) and choose again.
   */
  async chooseReadingDeeper(
    first: readonly Candidate[],
    pools: readonly [string, number][],
    active: readonly ActiveCount[],
    read: (limit: number) => Promise<Candidate[]>,
  ): Promise<Candidate[]> {
    let limit = this.firstLimit;
    let candidates = first;
    let chosen = await this.choose(candidates, pools, active);
    while (chosen.length < this.free && candidates.length === limit && limit < MAX_CANDIDATES) {
      limit = Math.min(limit * 8, MAX_CANDIDATES);
      candidates = await read(limit);
      chosen = await this.choose(candidates, pools, active);
    }
    return chosen;
  }

  private async choose(
    list: readonly Candidate[],
    pools: readonly [string, number][],
    active: readonly ActiveCount[],
  ): Promise<Candidate[]> {
    const poolFree = new Map<string, number>(pools);
    if (!poolFree.has(DEFAULT_POOL)) poolFree.set(DEFAULT_POOL, DEFAULT_POOL_SLOTS);
    const dagActive = new Map<string, number>();
    for (const a of active) {
      poolFree.set(a.pool, (poolFree.get(a.pool) ?? 0) - Number(a.used));
      dagActive.set(a.dag_id, (dagActive.get(a.dag_id) ?? 0) + Number(a.n));
    }
    const picked: Candidate[] = [];
    for (const ti of list) {
      if (picked.length >= this.free) break;
      const poolLeft = poolFree.get(ti.pool);
      if (poolLeft === undefined) {
        if (!this.warnedPools.has(ti.pool))
          this.options.log.warn(
            `${ti.dag_id}.${ti.task_id}: pool '${ti.pool}' does not exist; the task waits until it is created`,
          );
        this.warnedPools.add(ti.pool);
        poolFree.set(ti.pool, 0);
        continue;
      }
      if (poolLeft < ti.pool_slots) continue;
      const cached = await this.dags.get(ti.dag_id, this.options.now);
      const maxActive = cached?.dag.maxActiveTasks ?? 16;
      const running = dagActive.get(ti.dag_id) ?? 0;
      if (running >= maxActive) continue;
      poolFree.set(ti.pool, poolLeft - ti.pool_slots);
      dagActive.set(ti.dag_id, running + 1);
      picked.push(ti);
    }
    return picked;
  }
}

/**
 * Read, choose and queue with one statement per request (inside a transaction when the rows are
 * locked). Safe without per-row guards beyond state: with row locking the rows are locked by the
 * SELECT, and without it only one scheduler runs (job.ts refuses a second), so the try numbers
 * read are the ones updated.
 */
async function pickInTransaction(
  db: Kysely<Database>,
  chooser: Chooser,
  options: QueueOptions,
): Promise<Candidate[]> {
  const read = async (limit: number) =>
    (await db.executeQuery<Candidate>(candidatesQuery(db, limit, options.skipLocked))).rows;
  const candidates = await read(chooser.firstLimit);
  if (candidates.length === 0) return [];
  const [pools, active] = await Promise.all([
    poolSlots(db, options.now),
    db.executeQuery<ActiveCount>(activeQuery(db)).then((r) => r.rows),
  ]);
  const chosen = await chooser.chooseReadingDeeper(candidates, pools, active, read);
  const queued: Candidate[] = [];
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
  chooser: Chooser,
  options: QueueOptions,
): Promise<Candidate[]> {
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
      Candidate[],
      ActiveCount[],
      { pool: string; slots: number }[] | undefined,
    ];
    const read = async (limit: number): Promise<Candidate[]> =>
      (await connection.executeQuery<Candidate>(candidatesQuery(db, limit, lock))).rows;
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
    const queued: Candidate[] = [];
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
