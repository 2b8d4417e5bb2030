import { ValidationError } from '../errors.js';

/**
 * A length of time as DAG authors write it: a number of seconds, as Airflow reads a bare number
 * (retry_delay=300, poke_interval=5), or an object such as `{ hours: 1, minutes: 30 }` (Python's
 * timedelta in TypeScript shape; `{ milliseconds: 200 }` for less than a second).
 */
export type Duration =
  | number
  | {
      weeks?: number;
      days?: number;
      hours?: number;
      minutes?: number;
      seconds?: number;
      milliseconds?: number;
    };

const ACCEPTED_FORMS =
  'a number of seconds (as in Airflow) or an object like { minutes: 5 } / { milliseconds: 200 }';

const UNIT_MS = {
  weeks: 7 * 24 * 3600_000,
  days: 24 * 3600_000,
  hours: 3600_000,
  minutes: 60_000,
  seconds: 1000,
  milliseconds: 1,
} as const;

export function durationToMs(value: Duration, what = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new ValidationError(`${what} must be ${ACCEPTED_FORMS}; got ${value}`);
    return value * UNIT_MS.seconds;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ValidationError(`${what} must be ${ACCEPTED_FORMS}; got ${JSON.stringify(value)}`);
  let total = 0;
  for (const [unit, amount] of Object.entries(value)) {
    if (!(unit in UNIT_MS))
      throw new ValidationError(
        `${what}: unknown unit '${unit}' (use weeks, days, hours, minutes, seconds, milliseconds)`,
      );
    if (typeof amount !== 'number' || !Number.isFinite(amount))
      throw new ValidationError(`${what}: ${unit} must be a number`);
    total += amount * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (total < 0) throw new ValidationError(`${what} must not be negative`);
  return total;
}

export function optionalDurationToMs(value: Duration | null | undefined, what: string): number | null {
  return value === null || value === undefined ? null : durationToMs(value, what);
}

/** ISO-8601 text of a duration ("PT1H30M"), how Airflow's UI shows timedelta schedules. */
export function msToIsoDuration(ms: number): string {
  let rest = Math.round(ms);
  const days = Math.floor(rest / UNIT_MS.days);
  rest -= days * UNIT_MS.days;
  const hours = Math.floor(rest / UNIT_MS.hours);
  rest -= hours * UNIT_MS.hours;
  const minutes = Math.floor(rest / UNIT_MS.minutes);
  rest -= minutes * UNIT_MS.minutes;
  const seconds = rest / 1000;
  let text = 'P' + (days ? `${days}D` : '');
  if (hours || minutes || seconds || !days) {
    text +=
      'T' +
      (hours ? `${hours}H` : '') +
      (minutes ? `${minutes}M` : '') +
      (seconds || (!hours && !minutes) ? `${seconds}S` : '');
  }
  return text;
}
