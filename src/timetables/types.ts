/**
 * Data intervals: a run covers [start, end) and may be created once `runAfter` has passed. All
 * instants are epoch milliseconds (UTC); time zones only matter when computing cron boundaries.
 */
export interface DataInterval {
  start: number;
  end: number;
}

export interface NextRunInfo {
  dataInterval: DataInterval;
  /** Airflow's logical_date: the interval start. */
  logicalDate: number;
  /** The run is due once the interval has ended. */
  runAfter: number;
}

/** What limits the runs a DAG may get: its start/end dates and catchup. */
export interface TimeRestriction {
  earliest: number | null;
  latest: number | null;
  catchup: boolean;
}

export interface Timetable {
  /** Short text for dag.timetable_description. */
  readonly description: string;
  /** True when the schedule creates runs by itself (false for manual-only). */
  readonly periodic: boolean;
  /**
   * The next run after the last automated one (null: none yet), or null when there is none
   * (end date passed, @once done, manual-only). `now` decides what "latest" means without catchup.
   */
  nextDagRunInfo(last: DataInterval | null, restriction: TimeRestriction, now: number): NextRunInfo | null;
  /** The interval of a manual run triggered at `runAfter`. */
  inferManualDataInterval(runAfter: number): DataInterval;
}
