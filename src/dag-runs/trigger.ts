import { validateParams } from '../dag/params.js';
import type { DagRunRow } from '../db/tables.js';
import { ValidationError } from '../errors.js';
import { dagTimetable } from '../timetables/index.js';
import { createDagRun } from './create-dag-run.js';
import { getDagRow, getSerializedDag } from './load-dag.js';
import { checkRunId, runIdFor } from './run-id.js';
import type { MetadataDb } from '../db/index.js';

export interface TriggerOptions {
  /** A JSON object (already parsed), or JSON text (parsed here; malformed text is a ValidationError). */
  conf?: Record<string, unknown> | string | null;
  runId?: string;
  /** Default: now. */
  logicalDate?: number;
  now?: number;
}

/** Parse `-c` / request-body conf: must be a JSON object. */
export function parseConf(conf: TriggerOptions['conf']): Record<string, unknown> | null {
  if (conf === undefined || conf === null || conf === '') return null;
  let value: unknown = conf;
  if (typeof conf === 'string') {
    try {
      value = JSON.parse(conf);
    } catch (error) {
      throw new ValidationError(`conf is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new ValidationError('conf must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * A manual run (`dags trigger`, the UI's Trigger button, POST dagRuns). Params are validated
 * against the DAG's schemas with conf overriding defaults; any problem throws before anything is
 * written. The run starts queued; the scheduler starts it.
 */
export async function triggerDagRun(
  store: MetadataDb,
  dagId: string,
  options: TriggerOptions = {},
): Promise<DagRunRow> {
  const conf = parseConf(options.conf);
  if (options.runId !== undefined) checkRunId(options.runId);
  const { kysely } = store;
  await getDagRow(kysely, dagId);
  const dag = await getSerializedDag(kysely, dagId);
  validateParams(dag.params, conf ?? {});
  const now = options.now ?? Date.now();
  const logicalDate = options.logicalDate ?? now;
  const dataInterval = dagTimetable(dag).inferManualDataInterval(logicalDate);
  return createDagRun(kysely, {
    dag,
    runType: 'manual',
    logicalDate,
    dataInterval,
    runId: options.runId ?? runIdFor('manual', logicalDate),
    conf,
    externalTrigger: true,
    now,
  });
}
