import type { DagRunInfo } from '../dag/execution.js';
import type { DagRunRow } from '../db/tables.js';
import { jsonObjectOrNull } from '../json-object.js';

/**
 * A stored run as task code sees it (`dag_run` in the template context, a DAG callback's context):
 * dates as Dates, conf parsed (a conf that is not a JSON object reads as {}).
 */
export function dagRunInfo(run: DagRunRow): DagRunInfo {
  const conf = jsonObjectOrNull(run.conf) ?? {};
  return {
    dagId: run.dag_id,
    runId: run.run_id,
    runType: run.run_type,
    conf,
    logicalDate: new Date(run.logical_date),
    dataIntervalStart: new Date(run.data_interval_start ?? run.logical_date),
    dataIntervalEnd: new Date(run.data_interval_end ?? run.logical_date),
    externalTrigger: run.external_trigger === 1,
  };
}
