import { DEFAULT_POOL, DEFAULT_POOL_SLOTS } from '../core/pools.js';
import type { QueueCandidate, QueueChooser, ActiveCount, TaskInstanceStore } from '../db/index.js';
import type { RunContextColumns } from '../core/run-context.js';
import type { Executor, TaskWorkItem } from '../executors/executor.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { DagCache } from './dag-cache.js';

/** The deepest look into the scheduled TIs per loop when limits hold back the first ones. */
const MAX_CANDIDATES = 512;

export interface QueueOptions {
  now: number;
  jobId: number | null;
  /** Lock the candidate rows (several schedulers). */
  skipLocked: boolean;
  /** The context columns of a running run, when the scheduler holds them (sent with the task). */
  runContext?: (dagId: string, runId: string) => RunContextColumns | undefined;
  log: Logger;
}

/**
 * Hand scheduled task instances to the executor, highest priority first, within the executor's
 * free slots (core.parallelism), each pool's free slots and each DAG's maxActiveTasks. A queued TI
 * gets the next try number; the runner claims exactly that try, so a TI is never run twice.
 */
export async function queueScheduledTasks(
  store: TaskInstanceStore,
  executor: Executor,
  dags: DagCache,
  options: QueueOptions,
): Promise<number> {
  const free = executor.openSlots;
  if (free <= 0) return 0;
  const chooser = new Chooser(dags, free, options);
  const queued = await store.queueBatch(chooser, options);
  const sends: Promise<void>[] = [];
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
    // Handed over together, not one after another: a remote executor (CeleryExecutor) then has
    // all of a loop's sends in flight on its connection at once (one round trip instead of one per
    // task while a fan-out refills its slots), and the loop gets back to the finished tries sooner.
    sends.push(
      executor.queue(item).catch(async (error: unknown) => {
        // The executor refused (stopping, duplicate): put the TI back so it is not stuck in queued.
        options.log.error(`Executor refused ${ti.dag_id}.${ti.task_id}: ${errorMessage(error)}`);
        await store.requeue(ti, options.now);
      }),
    );
  }
  await Promise.all(sends);
  return queued.length;
}

/**
 * Picks which candidates to queue within the executor's free slots, the pools' free slots and each
 * DAG's maxActiveTasks. A few candidates per free slot are usually enough (a busy scheduler
 * queues one or two per loop); only when pools or maxActiveTasks hold back too many of them is
 * the look taken deeper.
 */
class Chooser implements QueueChooser {
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
    first: readonly QueueCandidate[],
    pools: readonly [string, number][],
    active: readonly ActiveCount[],
    read: (limit: number) => Promise<QueueCandidate[]>,
  ): Promise<QueueCandidate[]> {
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
    list: readonly QueueCandidate[],
    pools: readonly [string, number][],
    active: readonly ActiveCount[],
  ): Promise<QueueCandidate[]> {
    const poolFree = new Map<string, number>(pools);
    if (!poolFree.has(DEFAULT_POOL)) poolFree.set(DEFAULT_POOL, DEFAULT_POOL_SLOTS);
    const dagActive = new Map<string, number>();
    for (const a of active) {
      poolFree.set(a.pool, (poolFree.get(a.pool) ?? 0) - Number(a.used));
      dagActive.set(a.dag_id, (dagActive.get(a.dag_id) ?? 0) + Number(a.n));
    }
    const picked: QueueCandidate[] = [];
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
