import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, type AppContext } from '../../../src/context.js';
import { processDagFolderOnce } from '../../../src/dag-processing/processor.js';
import { migrateToLatest } from '../../../src/db/index.js';
import type { DagRunRow, TaskInstanceRow } from '../../../src/db/tables.js';
import { silentLogger } from '../../../src/log.js';
import { Scheduler, type SchedulerStats } from '../../../src/scheduler/scheduler.js';
import { createTestDatabase, type TestDialect } from '../../support/databases.js';

/**
 * A real installation for scheduler tests: temp AIRFLOW_HOME with a dags folder, a fresh metadata
 * DB on the given dialect, DAG files parsed by the real DAG processor, and a real Scheduler with
 * the real LocalExecutor (task processes are forked and run the real task runner).
 */
export interface Harness {
  ctx: AppContext;
  env: Record<string, string>;
  home: string;
  dagsFolder: string;
  writeDag(name: string, source: string): Promise<void>;
  parse(): Promise<void>;
  unpause(dagId: string): Promise<void>;
  startScheduler(): Scheduler;
  stopScheduler(): Promise<SchedulerStats | undefined>;
  waitForRun(dagId: string, runId?: string, timeoutMs?: number): Promise<DagRunRow>;
  tis(dagId: string, runId: string): Promise<Record<string, TaskInstanceRow>>;
  runs(dagId: string): Promise<DagRunRow[]>;
  close(): Promise<void>;
}

export async function createHarness(
  dialect: TestDialect,
  config: Record<string, string> = {},
): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), 'updraft-sched-'));
  const dagsFolder = join(home, 'dags');
  await mkdir(dagsFolder);
  const database = await createTestDatabase(dialect);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? home,
    AIRFLOW_HOME: home,
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.url,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
    AIRFLOW__CORE__PARALLELISM: '8',
    AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION: 'False',
    AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC: '1',
    AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC: '1',
    AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL: '1',
    AIRFLOW__LOGGING__LOGGING_LEVEL: 'ERROR',
    ...config,
  };
  const ctx = createContext({ env, log: silentLogger });
  await migrateToLatest(await ctx.db());
  let scheduler: Scheduler | undefined;
  let running: Promise<SchedulerStats> | undefined;
  const db = async () => (await ctx.db()).kysely;
  const harness: Harness = {
    ctx,
    env,
    home,
    dagsFolder,
    async writeDag(name, source) {
      await writeFile(join(dagsFolder, name), source);
    },
    async parse() {
      const stats = await processDagFolderOnce(ctx, { log: silentLogger });
      if (stats.importErrors > 0) {
        const errors = await (
          await db()
        )
          .selectFrom('import_error')
          .select(['filename', 'stacktrace'])
          .execute();
        throw new Error(`DAG import errors: ${JSON.stringify(errors)}`);
      }
    },
    async unpause(dagId) {
      await (await db()).updateTable('dag').set({ is_paused: 0 }).where('dag_id', '=', dagId).execute();
    },
    startScheduler() {
      scheduler = new Scheduler(ctx, { env, runDagProcessor: false, log: silentLogger });
      running = scheduler.run();
      running.catch(() => undefined);
      return scheduler;
    },
    async stopScheduler() {
      scheduler?.stop();
      const stats = await running;
      scheduler = undefined;
      running = undefined;
      return stats;
    },
    async waitForRun(dagId, runId, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let q = (await db())
          .selectFrom('dag_run')
          .selectAll()
          .where('dag_id', '=', dagId)
          .where('state', 'in', ['success', 'failed']);
        if (runId) q = q.where('run_id', '=', runId);
        const run = await q.executeTakeFirst();
        if (run) return run;
        if (Date.now() > deadline) {
          const tis = await (
            await db()
          )
            .selectFrom('task_instance')
            .select(['task_id', 'state', 'try_number'])
            .where('dag_id', '=', dagId)
            .execute();
          throw new Error(`Run of ${dagId} did not finish in ${timeoutMs} ms; TIs: ${JSON.stringify(tis)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async tis(dagId, runId) {
      const rows = await (
        await db()
      )
        .selectFrom('task_instance')
        .selectAll()
        .where('dag_id', '=', dagId)
        .where('run_id', '=', runId)
        .execute();
      return Object.fromEntries(
        rows.map((r) => [r.map_index >= 0 ? `${r.task_id}[${r.map_index}]` : r.task_id, r]),
      );
    },
    async runs(dagId) {
      return (await db())
        .selectFrom('dag_run')
        .selectAll()
        .where('dag_id', '=', dagId)
        .orderBy('logical_date')
        .execute();
    },
    async close() {
      await harness.stopScheduler().catch(() => undefined);
      await ctx.close();
      await database.drop().catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
  return harness;
}

/** States by task id, for compact assertions. */
export function statesOf(tis: Record<string, TaskInstanceRow>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(tis).map(([k, v]) => [k, v.state]));
}
