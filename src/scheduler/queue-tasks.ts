import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
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
  log: Logger;
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
  const pick = async (trx: Kysely<Database>) => {
    const candidatesUpTo = (limit: number) => {
      let q = trx
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
        .orderBy('priority_weight', 'desc')
        .orderBy('updated_at')
        .limit(limit);
      if (options.skipLocked) q = q.forUpdate().skipLocked();
      return q.execute();
    };
    type Candidate = Awaited<ReturnType<typeof candidatesUpTo>>[number];
    // A few candidates per free slot are usually enough (a busy scheduler queues one or two per
    // loop); only when pools or maxActiveTasks hold back too many of them is the look taken deeper.
    let limit = Math.max(free * 2, 8);
    let candidates = await candidatesUpTo(limit);
    if (candidates.length === 0) return [];
    // One aggregate gives both what each pool has in use and what each DAG has running.
    const [pools, active] = await Promise.all([
      poolSlots(trx, options.now),
      trx
        .selectFrom('task_instance')
        .select(['dag_id', 'pool', sql<number>`count(*)`.as('n'), sql<number>`sum(pool_slots)`.as('used')])
        .where('state', 'in', ['queued', 'running'])
        .groupBy(['dag_id', 'pool'])
        .execute(),
    ]);
    const warnedPools = new Set<string>();
    const choose = async (list: Candidate[]): Promise<Candidate[]> => {
      const poolFree = new Map<string, number>(pools);
      if (!poolFree.has(DEFAULT_POOL)) poolFree.set(DEFAULT_POOL, DEFAULT_POOL_SLOTS);
      const dagActive = new Map<string, number>();
      for (const a of active) {
        poolFree.set(a.pool, (poolFree.get(a.pool) ?? 0) - Number(a.used));
        dagActive.set(a.dag_id, (dagActive.get(a.dag_id) ?? 0) + Number(a.n));
      }
      const picked: Candidate[] = [];
      for (const ti of list) {
        if (picked.length >= free) break;
        const poolLeft = poolFree.get(ti.pool);
        if (poolLeft === undefined) {
          if (!warnedPools.has(ti.pool))
            options.log.warn(
              `${ti.dag_id}.${ti.task_id}: pool '${ti.pool}' does not exist; the task waits until it is created`,
            );
          warnedPools.add(ti.pool);
          poolFree.set(ti.pool, 0);
          continue;
        }
        if (poolLeft < ti.pool_slots) continue;
        const cached = await dags.get(ti.dag_id, options.now);
        const maxActive = cached?.dag.maxActiveTasks ?? 16;
        const running = dagActive.get(ti.dag_id) ?? 0;
        if (running >= maxActive) continue;
        poolFree.set(ti.pool, poolLeft - ti.pool_slots);
        dagActive.set(ti.dag_id, running + 1);
        picked.push(ti);
      }
      return picked;
    };
    let chosen = await choose(candidates);
    while (chosen.length < free && candidates.length === limit && limit < MAX_CANDIDATES) {
      limit = Math.min(limit * 8, MAX_CANDIDATES);
      candidates = await candidatesUpTo(limit);
      chosen = await choose(candidates);
    }
    // One UPDATE per run. Safe without per-row guards beyond state: with row locking the rows
    // are locked by the SELECT above, and without it only one scheduler runs (job.ts refuses a
    // second), so the try numbers read are the ones updated.
    const queued: typeof chosen = [];
    const byRun = new Map<string, typeof chosen>();
    for (const ti of chosen) {
      const k = `${ti.dag_id}\u0000${ti.run_id}\u0000${ti.map_index}`;
      const list = byRun.get(k);
      if (list) list.push(ti);
      else byRun.set(k, [ti]);
    }
    for (const group of byRun.values()) {
      const first = group[0]!;
      const r = await trx
        .updateTable('task_instance')
        .set({
          state: 'queued',
          try_number: sql<number>`try_number + 1`,
          queued_dttm: options.now,
          queued_by_job_id: options.jobId,
          updated_at: options.now,
        })
        .where('dag_id', '=', first.dag_id)
        .where('run_id', '=', first.run_id)
        .where('map_index', '=', first.map_index)
        .where(
          'task_id',
          'in',
          group.map((t) => t.task_id),
        )
        .where('state', '=', 'scheduled')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === group.length) {
        queued.push(...group);
        continue;
      }
      // Someone changed some of them meanwhile (a clear or a mark): queue only those we got.
      const got = await trx
        .selectFrom('task_instance')
        .select(['task_id', 'try_number'])
        .where('dag_id', '=', first.dag_id)
        .where('run_id', '=', first.run_id)
        .where('map_index', '=', first.map_index)
        .where(
          'task_id',
          'in',
          group.map((t) => t.task_id),
        )
        .where('state', '=', 'queued')
        .where('queued_dttm', '=', options.now)
        .execute();
      const ok = new Map(got.map((g) => [g.task_id, g.try_number]));
      for (const ti of group) if (ok.get(ti.task_id) === ti.try_number + 1) queued.push(ti);
    }
    return queued;
  };
  const queued = options.skipLocked ? await db.transaction().execute((trx) => pick(trx)) : await pick(db);
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
      queuedTi: { maxTries: ti.max_tries, operator: ti.operator },
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

/** Pool sizes change rarely (`pools set`): read them at most once a second. */
let poolCache: { at: number; pools: [string, number][] } | undefined;
async function poolSlots(db: Kysely<Database>, now: number): Promise<[string, number][]> {
  if (poolCache && now - poolCache.at < 1000 && now >= poolCache.at) return poolCache.pools;
  const rows = await db.selectFrom('slot_pool').select(['pool', 'slots']).execute();
  poolCache = { at: now, pools: rows.map((p) => [p.pool, p.slots < 0 ? Infinity : p.slots]) };
  return poolCache.pools;
}
