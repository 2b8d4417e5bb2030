import type { Kysely } from 'kysely';
import type { Database } from '../../db/tables.js';

/** One row in Airflow's `log` table (the audit log shown under Browse → Audit Log). */
export interface AuditEvent {
  event: string;
  owner: string;
  dagId?: string | null;
  runId?: string | null;
  taskId?: string | null;
  mapIndex?: number | null;
  extra?: unknown;
}

export async function recordAudit(db: Kysely<Database>, e: AuditEvent): Promise<void> {
  await db
    .insertInto('log')
    .values({
      dttm: Date.now(),
      event: e.event,
      owner: e.owner,
      dag_id: e.dagId ?? null,
      run_id: e.runId ?? null,
      task_id: e.taskId ?? null,
      map_index: e.mapIndex ?? null,
      extra: e.extra === undefined ? null : typeof e.extra === 'string' ? e.extra : JSON.stringify(e.extra),
    })
    .execute();
}
