import { ValidationError } from '../errors.js';

/** Throws ValidationError unless `zone` is an IANA time zone name this Node knows (or UTC). */
export function checkTimeZone(zone: string, what: string): string {
  if (zone.toUpperCase() === 'UTC') return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new ValidationError(
      `${what}: unknown time zone '${zone}' (use an IANA name such as Europe/Berlin)`,
    );
  }
  return zone;
}

/** Milliseconds the zone is ahead of UTC at the instant `utcMs`. */
function zoneOffsetMs(utcMs: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/**
 * Parse a date the way Airflow treats naive datetimes: text with an offset or `Z` is that
 * instant; text without one ("2024-01-01", "2024-01-01T06:00") is wall time in `zone`.
 */
export function parseDateInZone(text: string, zone: string): Date {
  if (/[zZ]$|[+-]\d\d:?\d\d$/.test(text)) return new Date(text);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?$/.exec(
    text.trim(),
  );
  if (!m) return new Date(NaN);
  const wall = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4] ?? 0),
    Number(m[5] ?? 0),
    Number(m[6] ?? 0),
    Number((m[7] ?? '0').padEnd(3, '0')),
  );
  if (zone === 'UTC') return new Date(wall);
  // The offset at the guessed instant, corrected once for a DST change in between.
  let utc = wall - zoneOffsetMs(wall, zone);
  utc = wall - zoneOffsetMs(utc, zone);
  return new Date(utc);
}
