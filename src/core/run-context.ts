import { jsonObjectOrNull } from './json-object.js';
import type { DagRunType } from './states.js';

/**
 * The columns of a run that a try's context is made from. None of them changes after the run is
 * created, so the scheduler can hand them to the try with the task (see QueuedTiInfo).
 */
export interface RunContextColumns {
  dag_id: string;
  run_id: string;
  run_type: DagRunType;
  /** JSON text. */
  conf: string | null;
  /** Milliseconds since the epoch, as stored. */
  logical_date: number;
  data_interval_start: number | null;
  data_interval_end: number | null;
  /** 0/1, as stored. */
  external_trigger: number;
}

/** A run as task code sees it (`dag_run` in the template context, a DAG callback's context). */
export interface DagRunInfo {
  dagId: string;
  runId: string;
  runType: DagRunType;
  conf: Record<string, unknown>;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  externalTrigger: boolean;
}

export function runContextColumns(run: RunContextColumns): RunContextColumns {
  return {
    dag_id: run.dag_id,
    run_id: run.run_id,
    run_type: run.run_type,
    conf: run.conf,
    logical_date: run.logical_date,
    data_interval_start: run.data_interval_start,
    data_interval_end: run.data_interval_end,
    external_trigger: run.external_trigger,
  };
}

/**
 * A stored run as task code sees it (`dag_run` in the template context, a DAG callback's context):
 * dates as Dates, conf parsed (a conf that is not a JSON object reads as {}).
 */
export function dagRunInfo(run: RunContextColumns): DagRunInfo {
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
