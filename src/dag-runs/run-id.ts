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

/** Parse a user-given date (ISO 8601; a date alone means midnight UTC). */
export function parseDate(text: string, what = 'date'): number {
  const trimmed = text.trim();
  const value = /^\d{4}-\d{2}-\d{2}$/.test(trimmed)
    ? Date.parse(`${trimmed}T00:00:00Z`)
    : Date.parse(trimmed);
  if (Number.isNaN(value))
    throw new ValidationError(
      `Invalid ${what} '${text}': expected an ISO 8601 date such as 2024-01-31 or 2024-01-31T12:00:00Z`,
    );
  return value;
}
