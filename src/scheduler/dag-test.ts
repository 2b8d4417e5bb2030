import type { AppContext } from '../context.js';
import { createDagRun } from '../dag-runs/create-dag-run.js';
import { getSerializedDag } from '../dag-runs/load-dag.js';
import { runIdFor } from '../dag-runs/run-id.js';
import { parseConf } from '../dag-runs/trigger.js';
import { validateParams } from '../dag/params.js';
import type { DagRunRow, TaskInstanceRow } from '../db/tables.js';
import { taskProcessOptions } from '../executors/index.js';
import { dagTimetable } from '../timetables/index.js';
import { ProcessPool } from '../worker/process-pool.js';
import { DagCache } from './dag-cache.js';
import { scheduleRun } from './schedule-run.js';

export interface DagTestOptions {
  logicalDate?: number;
  conf?: Record<string, unknown> | string | null;
  /** Task log lines (the CLI prints them). */
  echo?: (line: string) => void;
  /** Give up after this long (a sensor or a retry delay could otherwise wait for days). */
  timeoutMs?: number;
}

/**
 * `dags test`: run one whole DAG run, without scheduler or executor (Airflow's dag.test()): tasks
 * run one at a time in dependency order through the real task runner, and the run and its task
 * instances are recorded in the metadata DB like any other run.
 *
 * Each try runs in a task process (the one the executors use, src/worker/), not in this process: a
 * try that outlives its executionTimeout is stopped by ending that process, so its code cannot go on
 * (and write its side effects) after the try was recorded failed. JavaScript in this process could
 * not be stopped.
 */
export async function testDag(
  ctx: AppContext,
  dagId: string,
  options: DagTestOptions = {},
): Promise<{ run: DagRunRow; tis: TaskInstanceRow[] }> {
  const db = (await ctx.db()).kysely;
  const dag = await getSerializedDag(db, dagId);
  const conf = parseConf(options.conf);
  validateParams(dag.params, conf ?? {});
  const now = Date.now();
  const logicalDate = options.logicalDate ?? now;
  const run = await createDagRun(db, {
    dag,
    runType: 'manual',
    logicalDate,
    dataInterval: dagTimetable(dag).inferManualDataInterval(logicalDate),
    runId: runIdFor('manual', logicalDate),
    conf,
    state: 'running',
    externalTrigger: true,
    now,
  });
  await db.updateTable('dag_run').set({ start_date: now }).where('id', '=', run.id).execute();
  const cache = new DagCache(db, 0);
  const deadline = Date.now() + (options.timeoutMs ?? 3_600_000);
  const pool = new ProcessPool({
    ...taskProcessOptions(ctx),
    size: 1,
    warmProcesses: 1,
    executorClass: 'DagTest',
    name: 'dags test',
    onLog: (_key, text) => options.echo?.(text),
  });
  await pool.start();
  try {
    await runToEnd();
  } finally {
    await pool.stop(0);
  }
  async function runToEnd(): Promise<void> {
    for (;;) {
      const current = await db
        .selectFrom('dag_run')
        .selectAll()
        .where('id', '=', run.id)
        .executeTakeFirstOrThrow();
      if (current.state !== 'running') break;
      const cached = (await cache.get(dagId))!;
      const res = await scheduleRun(db, current, cached, {
        now: Date.now(),
        maxMapLength: ctx.config.values.core.max_map_length,
        log: ctx.log,
      });
      if (res.finished) break;
      const ready = await db
        .selectFrom('task_instance')
        .selectAll()
        .where('dag_id', '=', dagId)
        .where('run_id', '=', run.run_id)
        .where('state', '=', 'scheduled')
        .orderBy('priority_weight', 'desc')
        .execute();
      for (const ti of ready) {
        const tryNumber = ti.try_number + 1;
        await db
          .updateTable('task_instance')
          .set({ state: 'queued', try_number: tryNumber, queued_dttm: Date.now() })
          .where('dag_id', '=', ti.dag_id)
          .where('run_id', '=', ti.run_id)
          .where('task_id', '=', ti.task_id)
          .where('map_index', '=', ti.map_index)
          .execute();
        // A try whose process died is recorded by the pool (up_for_retry or failed), as for an executor.
        await pool.run({
          key: { dagId, runId: run.run_id, taskId: ti.task_id, mapIndex: ti.map_index, tryNumber },
          fileloc: dag.fileloc,
          queue: ti.queue,
          priorityWeight: ti.priority_weight,
          poolSlots: ti.pool_slots,
          executionTimeoutMs: dag.tasks.find((t) => t.taskId === ti.task_id)?.executionTimeoutMs ?? null,
        });
      }
      if (ready.length === 0 && res.changed === 0 && !res.again) {
        if (Date.now() > deadline)
          throw new Error(
            `dags test: ${dagId} did not finish within ${(options.timeoutMs ?? 3_600_000) / 1000} s`,
          );
        // Waiting for a retry delay or a rescheduled sensor.
        const wait =
          res.nextWakeAt !== null ? Math.max(10, Math.min(1000, res.nextWakeAt - Date.now())) : 100;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
  const finalRun = await db
    .selectFrom('dag_run')
    .selectAll()
    .where('id', '=', run.id)
    .executeTakeFirstOrThrow();
  const tis = await db
    .selectFrom('task_instance')
    .selectAll()
    .where('dag_id', '=', dagId)
    .where('run_id', '=', run.run_id)
    .orderBy('task_id')
    .execute();
  return { run: finalRun, tis };
}
