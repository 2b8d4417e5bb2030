import type { DataInterval, NextRunInfo, TimeRestriction, Timetable } from './types.js';

/** @once: a single run at the start date; manual-only (null schedule) never creates runs. */
export class OnceTimetable implements Timetable {
  readonly periodic = true;
  readonly description = 'Once, as soon as possible';

  nextDagRunInfo(last: DataInterval | null, restriction: TimeRestriction, now: number): NextRunInfo | null {
    if (last) return null;
    const at = restriction.earliest ?? now;
    if (restriction.latest !== null && at > restriction.latest) return null;
    return { dataInterval: { start: at, end: at }, logicalDate: at, runAfter: at };
  }

  inferManualDataInterval(runAfter: number): DataInterval {
    return { start: runAfter, end: runAfter };
  }
}

export class ManualOnlyTimetable implements Timetable {
  readonly periodic = false;
  readonly description = 'Never, external triggers only';

  nextDagRunInfo(): NextRunInfo | null {
    return null;
  }

  inferManualDataInterval(runAfter: number): DataInterval {
    return { start: runAfter, end: runAfter };
  }
}
