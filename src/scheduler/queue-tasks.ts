import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
import type { Executor, TaskWorkItem } from '../executors/executor.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { DagCache } from './dag-cache.js';

export const DEFAULT_POOL = 'default_pool';
export const DEFAULT_POOL_SLOTS = 128;

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
export async function queueScheduledTasks(db: Kysely<Database>, executor: Executor, dags: DagCache, options: QueueOptions): Promise<number> {
  let free = executor.openSlots;
  if (free <= 0) return 0;
  const pick = async (trx: Kysely<Database>) => {
    let q = trx
      .selectFrom('task_instance')
      .select(['dag_id', 'run_id', 'task_id', 'map_index', 'try_number', 'pool', 'pool_slots', 'priority_weight', 'queue'])
      .where('state', '=', 'scheduled')
      .orderBy('priority_weight', 'desc')
      .orderBy('updated_at')
      .limit(Math.max(free * 4, 64));
    if (options.skipLocked) q = q.forUpdate().skipLocked();
    const candidates = await q.execute();
    if (candidates.length === 0) return [];
    const [pools, occupied, perDag] = await Promise.all([
      trx.selectFrom('slot_pool').select(['pool', 'slots']).execute(),
      trx
        .selectFrom('task_instance')
        .select(['pool', sql<number>`sum(pool_slots)`.as('used')])
        .where('state', 'in', ['queued', 'running'])
        .groupBy('pool')
        .execute(),
      trx
        .selectFrom('task_instance')
        .select(['dag_id', sql<number>`count(*)`.as('n')])
        .where('state', 'in', ['queued', 'running'])
        .where('dag_id', 'in', [...new Set(candidates.map((c) => c.dag_id))])
        .groupBy('dag_id')
        .execute(),
    ]);
    const poolFree = new Map<string, number>(pools.map((p) => [p.pool, p.slots < 0 ? Infinity : p.slots]));
    if (!poolFree.has(DEFAULT_POOL)) poolFree.set(DEFAULT_POOL, DEFAULT_POOL_SLOTS);
    for (const o of occupied) poolFree.set(o.pool, (poolFree.get(o.pool) ?? 0) - Number(o.used));
    const dagActive = new Map<string, number>(perDag.map((d) => [d.dag_id, Number(d.n)]));
    const chosen: (typeof candidates)[number][] = [];
    for (const ti of candidates) {
      if (free <= 0) break;
      const poolLeft = poolFree.get(ti.pool);
      if (poolLeft === undefined) {
        options.log.warn(`${ti.dag_id}.${ti.task_id}: pool '${ti.pool}' does not exist; the task waits until it is created`);
        poolFree.set(ti.pool, 0);
        continue;
      }
      if (poolLeft < ti.pool_slots) continue;
      const cached = await dags.get(ti.dag_id, options.now);
      const maxActive = cached?.dag.maxActiveTasks ?? 16;
      const active = dagActive.get(ti.dag_id) ?? 0;
      if (active >= maxActive) continue;
      poolFree.set(ti.pool, poolLeft - ti.pool_slots);
      dagActive.set(ti.dag_id, active + 1);
      free--;
      chosen.push(ti);
    }
    const queued: typeof chosen = [];
    for (const ti of chosen) {
      const r = await trx
        .updateTable('task_instance')
        .set({ state: 'queued', try_number: ti.try_number + 1, queued_dttm: options.now, queued_by_job_id: options.jobId, updated_at: options.now })
        .where('dag_id', '=', ti.dag_id)
        .where('run_id', '=', ti.run_id)
        .where('task_id', '=', ti.task_id)
        .where('map_index', '=', ti.map_index)
        .where('state', '=', 'scheduled')
        .where('try_number', '=', ti.try_number)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) queued.push(ti);
    }
    return queued;
  };
  const queued = options.skipLocked ? await db.transaction().execute((trx) => pick(trx)) : await pick(db);
  for (const ti of queued) {
    const cached = await dags.get(ti.dag_id, options.now);
    const task = cached?.graph.byId.get(ti.task_id);
    const item: TaskWorkItem = {
      key: { dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: ti.map_index, tryNumber: ti.try_number + 1 },
      fileloc: cached?.dag.fileloc ?? '',
      queue: ti.queue,
      priorityWeight: ti.priority_weight,
      poolSlots: ti.pool_slots,
      executionTimeoutMs: task?.executionTimeoutMs ?? null,
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
