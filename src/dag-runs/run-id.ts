import type { DagRunType } from '../db/tables.js';
import { ValidationError } from '../errors.js';

/** Airflow's run ids: `scheduled__2024-01-01T00:00:00+00:00`. */
export function runIdFor(type: DagRunType, logicalDate: number): string {
  // Like Python's isoformat(): fractional seconds only when there are some.
  return `${type}__${new Date(logicalDate)
    .toISOString()
    .replace(/\.000Z$/, 'Z')
    .replace(/Z$/, '+00:00')}`;
}

const RUN_ID = /^[A-Za-z0-9_.~:+-]{1,250}$/;

export function checkRunId(runId: string): void {
  if (!RUN_ID.test(runId)) {
    throw new ValidationError(
      `Invalid run id '${runId}': use letters, digits and _ . ~ : + - (at most 250 characters)`,
    );
  }
  if (/^(scheduled|backfill|dataset_triggered)__/.test(runId)) {
    throw new ValidationError(`Run id '${runId}' uses a prefix reserved for runs the scheduler creates`);
  }
}

// Extended (2024-01-31T12:30:00.5+02:00) and basic (20240131T123000Z) forms, a space for the T as
// Airflow accepts, minutes and seconds optional, an offset as Z, ±HH, ±HHMM or ±HH:MM.
const ISO_8601 =
  /^(\d{4})(?:-(\d{2})-(\d{2})|(\d{2})(\d{2}))(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parse a user-given date, strictly: ISO 8601 only (a date alone means midnight UTC, a time
 * without an offset is UTC), with every field in range — no 2024-02-30 rolling over into March,
 * no five-digit years, no "Tue Jan 2 2024" or bare numbers. The one date parser of the CLI (-e,
 * --start-date …) and the REST API (logical_date and date filters).
 */
export function parseDate(text: string, what = 'date'): number {
  const invalid = (why: string) =>
    new ValidationError(
      `Invalid ${what} '${text}': ${why}. Expected an ISO 8601 date such as 2024-01-31 or 2024-01-31T12:00:00Z`,
    );
  const m = ISO_8601.exec(text.trim());
  if (!m) throw invalid('not an ISO 8601 date');
  const year = Number(m[1]);
  const month = Number(m[2] ?? m[4]);
  const day = Number(m[3] ?? m[5]);
  const hour = Number(m[6] ?? 0);
  const minute = Number(m[7] ?? 0);
  const second = Number(m[8] ?? 0);
  const fraction = m[9] ? Number(`0.${m[9]}`) * 1000 : 0;
  if (year < 1) throw invalid('year 0000 does not exist');
  if (month < 1 || month > 12) throw invalid(`month ${month} does not exist`);
  if (day < 1 || day > daysIn(year, month))
    throw invalid(`${m[1]}-${String(month).padStart(2, '0')} has no day ${day}`);
  if (hour > 23 || minute > 59 || second > 59) throw invalid('time out of range');
  let offsetMinutes = 0;
  const zone = m[10];
  if (zone && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || 0);
    if (oh > 23 || om > 59) throw invalid('offset out of range');
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, 0);
  return utc.getTime() + Math.round(fraction) - offsetMinutes * 60_000;
}
