import { Cron } from 'croner';
import { ValidationError } from '../errors.js';
import type { DataInterval, NextRunInfo, TimeRestriction, Timetable } from './types.js';

/**
 * Cron boundaries in a time zone. croner only searches forward, so "previous boundary" walks
 * forward from a point safely before `t`; the window doubles until it contains a boundary.
 */
export class CronBoundaries {
  private readonly cron: Cron;

  constructor(
    readonly expression: string,
    readonly timezone: string,
  ) {
    try {
      this.cron = new Cron(expression, { paused: true, timezone: normaliseZone(timezone) });
    } catch (error) {
      throw new ValidationError(
        `Invalid cron '${expression}' in time zone '${timezone}': ${(error as Error).message}`,
      );
    }
  }

  /** First boundary strictly after t. */
  after(t: number): number | null {
    const next = this.cron.nextRun(new Date(t));
    if (!next) return null;
    // croner works in whole seconds: a t with milliseconds past a boundary can return that boundary.
    return next.getTime() > t ? next.getTime() : this.after(next.getTime());
  }

  /** First boundary at or after t. */
  atOrAfter(t: number): number | null {
    const next = this.after(t - 1000);
    if (next === null) return null;
    return next >= t ? next : this.after(next);
  }

  /** Last boundary strictly before t. */
  before(t: number): number | null {
    for (let window = 3_600_000; window <= 40 * 366 * 86_400_000; window *= 2) {
      let candidate = this.atOrAfter(t - window);
      if (candidate === null || candidate >= t) continue;
      for (;;) {
        const next = this.after(candidate);
        if (next === null || next >= t) return candidate;
        candidate = next;
      }
    }
    return null;
  }

  /** Last boundary at or before t. */
  atOrBefore(t: number): number | null {
    return this.atOrAfter(t) === t ? t : this.before(t);
  }
}

export function normaliseZone(zone: string): string {
  return zone.toLowerCase() === 'utc' ? 'UTC' : zone;
}

/** Airflow's CronDataIntervalTimetable: a run covers one cron period and fires at its end. */
export class CronTimetable implements Timetable {
  readonly periodic = true;
  private readonly b: CronBoundaries;

  constructor(
    expression: string,
    timezone: string,
    readonly description: string,
  ) {
    this.b = new CronBoundaries(expression, timezone);
  }

  nextDagRunInfo(last: DataInterval | null, restriction: TimeRestriction, now: number): NextRunInfo | null {
    let start: number | null;
    if (last) {
      start = this.b.atOrAfter(last.end);
    } else if (restriction.earliest !== null) {
      start = this.b.atOrAfter(restriction.earliest);
    } else {
      start = this.latestCompleteStart(now);
    }
    if (start === null) return null;
    if (!restriction.catchup) {
      // Without catchup only the latest complete interval (or a later one) is run.
      const latest = this.latestCompleteStart(now);
      if (latest !== null && latest > start) start = latest;
    }
    if (restriction.earliest !== null && start < restriction.earliest) {
      start = this.b.atOrAfter(restriction.earliest);
      if (start === null) return null;
    }
    if (restriction.latest !== null && start > restriction.latest) return null;
    const end = this.b.after(start);
    if (end === null) return null;
    return { dataInterval: { start, end }, logicalDate: start, runAfter: end };
  }

  inferManualDataInterval(runAfter: number): DataInterval {
    const end = this.b.atOrBefore(runAfter) ?? runAfter;
    const start = this.b.before(end) ?? end;
    return { start, end };
  }

  /** Start of the newest interval that has already ended at `now`. */
  private latestCompleteStart(now: number): number | null {
    const end = this.b.atOrBefore(now);
    return end === null ? null : this.b.before(end);
  }
}
