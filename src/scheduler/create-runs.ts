import type { Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
import { ConflictError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { createDagRun } from '../dag-runs/create-dag-run.js';
import type { DagCache } from './dag-cache.js';
import { nextRunAfter, refreshNextDagRun, writeNextDagRun } from './next-dagrun.js';

export interface CreateRunsOptions {
  now: number;
  maxPerLoop: number;
  jobId: number | null;
  log: Logger;
}

/**
 * Create the scheduled runs that are due: unpaused, active DAGs whose next_dagrun_create_after has
 * passed and that have fewer than maxActiveRuns runs queued or running. dag.next_dagrun* is
 * (re)computed when missing or when the DAG's definition changed.
 */
export class DagRunCreator {
  /** dag_id → dag_hash the next_dagrun columns were computed for. */
  private readonly computedFor = new Map<string, string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dags: DagCache,
  ) {}

  async createDue(options: CreateRunsOptions): Promise<number> {
    const { now } = options;
    const candidates = await this.db
      .selectFrom('dag')
      .select([
        'dag_id',
        'next_dagrun',
        'next_dagrun_data_interval_start',
        'next_dagrun_data_interval_end',
        'next_dagrun_create_after',
      ])
      .where('is_paused', '=', 0)
      .where('is_active', '=', 1)
      .where('schedule_interval', 'is not', null)
      .execute();
    let created = 0;
    for (const row of candidates) {
      if (created >= options.maxPerLoop) break;
      const cached = await this.dags.get(row.dag_id, now);
      if (!cached || !cached.dag.schedule) continue;
      const { dag } = cached;
      if (this.computedFor.get(dag.dagId) !== cached.hash || row.next_dagrun_create_after === null) {
        if (this.computedFor.get(dag.dagId) === cached.hash && row.next_dagrun_create_after === null)
          continue; // no more runs
        const info = await refreshNextDagRun(this.db, dag, now);
        this.computedFor.set(dag.dagId, cached.hash);
        if (!info) continue;
        row.next_dagrun = info.logicalDate;
        row.next_dagrun_data_interval_start = info.dataInterval.start;
        row.next_dagrun_data_interval_end = info.dataInterval.end;
        row.next_dagrun_create_after = info.runAfter;
      }
      if (
        row.next_dagrun_create_after === null ||
        row.next_dagrun_create_after > now ||
        row.next_dagrun === null
      )
        continue;
      const active = await this.db
        .selectFrom('dag_run')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('dag_id', '=', dag.dagId)
        .where('state', 'in', ['queued', 'running'])
        .executeTakeFirstOrThrow();
      if (Number(active.n) >= dag.maxActiveRuns) continue;
      const interval = {
        start: row.next_dagrun_data_interval_start ?? row.next_dagrun,
        end: row.next_dagrun_data_interval_end ?? row.next_dagrun,
      };
      try {
        await createDagRun(this.db, {
          dag,
          runType: 'scheduled',
          logicalDate: row.next_dagrun,
          dataInterval: interval,
          creatingJobId: options.jobId,
          now,
        });
        created++;
      } catch (error) {
        // Another scheduler (or a backfill) made this run already: just move on to the next one.
        if (!(error instanceof ConflictError)) {
          options.log.error(`Could not create a run of ${dag.dagId}: ${errorMessage(error)}`);
          continue;
        }
      }
      const next = nextRunAfter(dag, interval, now);
      // Guarded: only the scheduler that saw the old value moves it forward.
      await this.db
        .updateTable('dag')
        .set({
          next_dagrun: next?.logicalDate ?? null,
          next_dagrun_data_interval_start: next?.dataInterval.start ?? null,
          next_dagrun_data_interval_end: next?.dataInterval.end ?? null,
          next_dagrun_create_after: next?.runAfter ?? null,
        })
        .where('dag_id', '=', dag.dagId)
        .where('next_dagrun', '=', row.next_dagrun)
        .execute();
    }
    return created;
  }
}

export { writeNextDagRun };
