import type { DataInterval, NextRunInfo, TimeRestriction, Timetable } from './types.js';

/**
 * Airflow's DeltaDataIntervalTimetable: a fixed-length interval counted from the start date (not
 * aligned to the clock), so DST never changes its length.
 */
export class DeltaTimetable implements Timetable {
  readonly periodic = true;

  constructor(
    readonly everyMs: number,
    readonly description: string,
  ) {}

  nextDagRunInfo(last: DataInterval | null, restriction: TimeRestriction, now: number): NextRunInfo | null {
    let start: number;
    if (last) start = last.end;
    else if (restriction.earliest !== null) start = restriction.earliest;
    else start = now - this.everyMs;
    if (!restriction.catchup) {
      // Skip to the newest whole interval that has ended, keeping the grid anchored at the start.
      const latest = now - this.everyMs;
      if (latest > start) start += Math.floor((latest - start) / this.everyMs) * this.everyMs;
    }
    if (restriction.latest !== null && start > restriction.latest) return null;
    const end = start + this.everyMs;
    return { dataInterval: { start, end }, logicalDate: start, runAfter: end };
  }

  inferManualDataInterval(runAfter: number): DataInterval {
    return { start: runAfter - this.everyMs, end: runAfter };
  }
}
