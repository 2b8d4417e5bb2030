import { sql, type Kysely } from 'kysely';
import type { Database, DagRunRow, TaskInstanceState } from '../db/tables.js';
import { insertTaskInstances } from '../dag-runs/create-dag-run.js';
import type { Logger } from '../log.js';
import { SKIPMIXIN_KEY, type SkipMixinValue } from '../core/xcom-keys.js';
import type { CachedDag } from './dag-cache.js';
import { evaluateRun, type TiChange, type TiView } from './evaluate-run.js';
import { expandPlaceholder, mappedLength } from './expand-mapped.js';
import { endRun } from './request-dag-callback.js';

export interface ScheduleRunResult {
  /** Task instances whose state changed (something new may be ready to queue). */
  changed: number;
  /** The run reached success or failed. */
  finished: boolean;
  /** Evaluate again soon even without an event (a mapped expansion or a retry came due). */
  again: boolean;
  nextWakeAt: number | null;
}

export interface ScheduleRunOptions {
  now: number;
  maxMapLength: number;
  log: Logger;
  /** The run's task instances as last read; only rows changed since are read again. */
  cache?: RunTiCache;
}

/**
 * Task instance states of one run kept between decisions, so that a decision after a task
 * finished costs no read of the run's rows (a 1,000-task run would otherwise read 1,000 rows for
 * every finished task):
 *   - `full`: read every row (the first decision, the once-a-second sweep, after a surprise);
 *   - `stale`: read the rows whose updated_at is recent (every writer of task_instance sets it;
 *     the margin covers clock differences between processes and commits that land after a read);
 *   - otherwise the rows are trusted as they are, patched with the states the executor reported
 *     and the changes this scheduler made itself. Every change is still a guarded UPDATE, so a
 *     decision taken on an out-of-date row changes nothing; a guard that misses marks the cache
 *     full, and a run is only finished after a fresh read.
 */
export class RunTiCache {
  rows = new Map<string, TiView>();
  readAt: number | null = null;
  full = true;
  stale = false;
  static readonly MARGIN_MS = 3000;

  /** A state known without reading (the runner's final state, as the executor reported it). */
  apply(taskId: string, mapIndex: number, state: TaskInstanceState): void {
    const row = this.rows.get(rowKey(taskId, mapIndex));
    if (row) row.state = state;
    else this.full = true;
  }
}

const rowKey = (taskId: string, mapIndex: number) => `${taskId}\u0000${mapIndex}`;

async function readTaskInstances(
  db: Kysely<Database>,
  run: DagRunRow,
  cache: RunTiCache | undefined,
): Promise<TiView[]> {
  if (cache && !cache.full && !cache.stale && cache.readAt !== null) return [...cache.rows.values()];
  const startedAt = Date.now();
  let q = db
    .selectFrom('task_instance')
    .select(['task_id as taskId', 'map_index as mapIndex', 'state', 'next_retry_at as nextRetryAt'])
    .where('dag_id', '=', run.dag_id)
    .where('run_id', '=', run.run_id);
  const incremental = cache !== undefined && !cache.full && cache.readAt !== null;
  if (incremental) q = q.where('updated_at', '>=', cache.readAt! - RunTiCache.MARGIN_MS);
  const rows = await q.execute();
  if (!cache) return rows;
  if (!incremental) cache.rows.clear();
  for (const r of rows) cache.rows.set(rowKey(r.taskId, r.mapIndex), r);
  cache.readAt = startedAt;
  cache.full = false;
  cache.stale = false;
  return [...cache.rows.values()];
}

/**
 * Whether a decision on this run could change anything, judged from the trusted cache alone (no
 * query, no lock). With several schedulers every decision runs in a transaction holding the run's
 * row lock, which costs round trips even when, as after most tasks of a wide fan-out, nothing is
 * ready yet; this lets the scheduler skip those. True whenever it cannot tell: the cache is not
 * trusted, or the DAG has branching, dependsOnPast or mapped tasks (their inputs live elsewhere).
 */
export function mayChange(cached: CachedDag, cache: RunTiCache, now: number): boolean {
  if (cache.full || cache.stale || cache.readAt === null) return true;
  const { dag, graph } = cached;
  if (dag.tasks.some((t) => t.isBranch || t.isShortCircuit || t.dependsOnPast || t.mapped)) return true;
  const tis = [...cache.rows.values()];
  const present = new Set(tis.map((t) => t.taskId));
  if (dag.tasks.some((t) => !present.has(t.taskId))) return true;
  const evaluation = evaluateRun({ dag, graph, tis, now, skipChoices: new Map(), pastStates: new Map() });
  return evaluation.changes.length > 0 || evaluation.runState !== 'running';
}

/**
 * One scheduling decision for one running DagRun (Airflow's DagRun.update_state +
 * task_instance_scheduling_decisions): read its task instances, evaluate dependencies and apply
 * the changes with state-guarded UPDATEs, then settle the run's own state.
 */
export async function scheduleRun(
  db: Kysely<Database>,
  run: DagRunRow,
  cached: CachedDag,
  options: ScheduleRunOptions,
): Promise<ScheduleRunResult> {
  const { dag, graph } = cached;
  const { now } = options;
  const cache = options.cache;
  const trusted = cache !== undefined && !cache.full && !cache.stale && cache.readAt !== null;
  let tis: TiView[] = await readTaskInstances(db, run, cache);

  // Tasks added to the DAG since the run was created get their instances now.
  const present = new Set(tis.map((t) => t.taskId));
  if (dag.tasks.some((t) => !present.has(t.taskId))) {
    const added = await insertTaskInstances(db, dag, run.run_id, now, present);
    if (cache) cache.full = true;
    if (added > 0)
      tis = [
        ...tis,
        ...dag.tasks
          .filter((t) => !present.has(t.taskId))
          .map((t) => ({ taskId: t.taskId, mapIndex: -1, state: null, nextRetryAt: null })),
      ];
  }

  const skipChoices = new Map<string, SkipMixinValue>();
  const deciders = dag.tasks.filter((t) => t.isBranch || t.isShortCircuit).map((t) => t.taskId);
  const decided = deciders.filter((id) => tis.some((ti) => ti.taskId === id && ti.state === 'success'));
  if (decided.length > 0) {
    const rows = await db
      .selectFrom('xcom')
      .select(['task_id', 'value'])
      .where('dag_id', '=', run.dag_id)
      .where('run_id', '=', run.run_id)
      .where('key', '=', SKIPMIXIN_KEY)
      .where('task_id', 'in', decided)
      .execute();
    for (const r of rows) skipChoices.set(r.task_id, JSON.parse(r.value) as SkipMixinValue);
  }

  const pastStates = new Map<string, TaskInstanceState | null | 'absent'>();
  const needPast = dag.tasks
    .filter((t) => t.dependsOnPast && tis.some((ti) => ti.taskId === t.taskId && ti.state === null))
    .map((t) => t.taskId);
  if (needPast.length > 0) {
    const prev = await db
      .selectFrom('dag_run')
      .select('run_id')
      .where('dag_id', '=', run.dag_id)
      .where('logical_date', '<', run.logical_date)
      .orderBy('logical_date', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (prev) {
      const rows = await db
        .selectFrom('task_instance')
        .select(['task_id', 'state'])
        .where('dag_id', '=', run.dag_id)
        .where('run_id', '=', prev.run_id)
        .where('task_id', 'in', needPast)
        .execute();
      // A mapped task depends on all of its previous instances: the worst state counts.
      for (const r of rows) {
        const seen = pastStates.get(r.task_id);
        if (seen === undefined || seen === 'success' || seen === 'skipped')
          pastStates.set(r.task_id, r.state);
      }
    }
  }

  const evaluation = evaluateRun({ dag, graph, tis, now, skipChoices, pastStates });
  // The run is settled only on rows read just now, never on remembered ones.
  if (trusted && evaluation.runState !== 'running') {
    cache.full = true;
    return scheduleRun(db, run, cached, options);
  }
  let changed = 0;
  let again = false;
  const groups = new Map<string, TiChange[]>();
  for (const c of evaluation.changes) {
    if (c.kind === 'expand') continue;
    const key = `${c.kind}|${String(c.from)}|${c.mapIndex}`;
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  for (const changes of groups.values()) {
    const first = changes[0]!;
    const ids = changes.map((c) => c.taskId);
    for (let i = 0; i < ids.length; i += 200) {
      let q = db
        .updateTable('task_instance')
        .where('dag_id', '=', run.dag_id)
        .where('run_id', '=', run.run_id)
        .where('map_index', '=', first.mapIndex)
        .where('task_id', 'in', ids.slice(i, i + 200));
      q = first.from === null ? q.where('state', 'is', null) : q.where('state', '=', first.from);
      const slice = ids.slice(i, i + 200);
      const r = await q.set(updateFor(first, now)).executeTakeFirst();
      changed += Number(r.numUpdatedRows);
      if (!cache) continue;
      // Remember what we wrote; if a guard missed, someone else changed rows: read them again.
      if (Number(r.numUpdatedRows) !== slice.length) cache.full = true;
      else for (const id of slice) cache.apply(id, first.mapIndex, stateAfter(first.kind));
    }
  }
  for (const c of evaluation.changes.filter((x) => x.kind === 'expand')) {
    again = true;
    const task = graph.byId.get(c.taskId)!;
    const placeholder = await db
      .selectFrom('task_instance')
      .selectAll()
      .where('dag_id', '=', run.dag_id)
      .where('run_id', '=', run.run_id)
      .where('task_id', '=', c.taskId)
      .where('map_index', '=', -1)
      .executeTakeFirst();
    if (!placeholder || placeholder.state !== null) continue;
    const length = await mappedLength(db, task, run.dag_id, run.run_id, options.maxMapLength);
    if (typeof length === 'string') {
      options.log.error(`${run.dag_id}.${c.taskId} (${run.run_id}): cannot expand: ${length}`);
      await db
        .updateTable('task_instance')
        .set({ state: 'failed', start_date: now, end_date: now, updated_at: now })
        .where('dag_id', '=', run.dag_id)
        .where('run_id', '=', run.run_id)
        .where('task_id', '=', c.taskId)
        .where('map_index', '=', -1)
        .where('state', 'is', null)
        .execute();
    } else {
      await expandPlaceholder(db, placeholder, length, now);
    }
    changed++;
  }

  let finished = false;
  if (evaluation.runState !== 'running' && !again) {
    if (evaluation.deadlocked)
      options.log.warn(
        `${run.dag_id} ${run.run_id}: deadlock — unfinished tasks can never run; marking the run failed`,
      );
    const reason =
      evaluation.runState === 'success'
        ? 'success'
        : evaluation.deadlocked
          ? 'all_tasks_deadlocked'
          : 'task_failure';
    finished = await endRun(
      db,
      dag,
      { dagId: run.dag_id, runId: run.run_id },
      { state: evaluation.runState, end_date: now, last_scheduling_decision: now, updated_at: now },
      reason,
      now,
    );
    if (finished) options.log.info(`${run.dag_id} ${run.run_id}: run ${evaluation.runState}`);
  }
  return { changed, finished, again, nextWakeAt: evaluation.nextWakeAt };
}

function stateAfter(kind: TiChange['kind']): TaskInstanceState {
  switch (kind) {
    case 'schedule':
    case 'expand':
      return 'scheduled';
    case 'empty_success':
      return 'success';
    case 'skip':
      return 'skipped';
    case 'upstream_failed':
      return 'upstream_failed';
    case 'remove':
      return 'removed';
  }
}

function updateFor(change: TiChange, now: number) {
  switch (change.kind) {
    case 'schedule':
      // A sensor coming back from up_for_reschedule continues the same try: queueing adds one to
      // try_number, so take one off here.
      return change.from === 'up_for_reschedule'
        ? { state: 'scheduled' as const, updated_at: now, try_number: sql<number>`try_number - 1` }
        : { state: 'scheduled' as const, updated_at: now };
    case 'empty_success':
      return { state: 'success' as const, start_date: now, end_date: now, duration: 0, updated_at: now };
    case 'skip':
      return { state: 'skipped' as const, start_date: now, end_date: now, duration: 0, updated_at: now };
    case 'upstream_failed':
      return { state: 'upstream_failed' as const, end_date: now, updated_at: now };
    case 'remove':
      return { state: 'removed' as const, updated_at: now };
    case 'expand':
      return { state: 'scheduled' as const, updated_at: now };
  }
}
