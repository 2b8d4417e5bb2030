import { PRESET_CRON, describeSchedule } from '../dag/schedule.js';
import type { ScheduleSpec, SerializedDag } from '../dag/serialized.js';
import { CronTimetable } from './cron.js';
import { DeltaTimetable } from './delta.js';
import { ManualOnlyTimetable, OnceTimetable } from './once.js';
import type { NextRunInfo, TimeRestriction, Timetable } from './types.js';

export type { DataInterval, NextRunInfo, TimeRestriction, Timetable } from './types.js';
export { CronBoundaries, CronTimetable } from './cron.js';
export { DeltaTimetable } from './delta.js';
export { ManualOnlyTimetable, OnceTimetable } from './once.js';

/** The timetable of a serialized schedule in the DAG's time zone. */
export function timetableFor(schedule: ScheduleSpec | null, timezone: string): Timetable {
  if (!schedule) return new ManualOnlyTimetable();
  const description = describeSchedule(schedule);
  switch (schedule.kind) {
    case 'cron':
      return new CronTimetable(schedule.expression, timezone, description);
    case 'preset':
      if (schedule.name === '@once') return new OnceTimetable();
      return new CronTimetable(PRESET_CRON[schedule.name], timezone, description);
    case 'interval':
      return new DeltaTimetable(schedule.everyMs, description);
  }
}

export function dagTimetable(dag: Pick<SerializedDag, 'schedule' | 'timezone'>): Timetable {
  return timetableFor(dag.schedule, dag.timezone);
}

export function restrictionOf(
  dag: Pick<SerializedDag, 'startDate' | 'endDate' | 'catchup'>,
): TimeRestriction {
  return {
    earliest: dag.startDate ? Date.parse(dag.startDate) : null,
    latest: dag.endDate ? Date.parse(dag.endDate) : null,
    catchup: dag.catchup,
  };
}

/**
 * Every run the schedule defines between two logical dates (inclusive), as backfill and
 * `catchup` see them: catchup forced on, bounded by the DAG's own start/end.
 */
export function runsBetween(
  timetable: Timetable,
  restriction: TimeRestriction,
  from: number,
  to: number,
  limit = 100_000,
): NextRunInfo[] {
  const earliest = restriction.earliest === null ? from : Math.max(from, restriction.earliest);
  const latest = restriction.latest === null ? to : Math.min(to, restriction.latest);
  const r: TimeRestriction = { earliest, latest, catchup: true };
  const out: NextRunInfo[] = [];
  let info = timetable.nextDagRunInfo(null, r, to);
  while (info && info.logicalDate <= latest && out.length < limit) {
    out.push(info);
    const next = timetable.nextDagRunInfo(info.dataInterval, r, to);
    if (!next || next.logicalDate <= info.logicalDate) break;
    info = next;
  }
  return out;
}
