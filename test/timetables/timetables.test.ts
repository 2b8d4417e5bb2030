import { describe, expect, it } from 'vitest';
import {
  CronBoundaries,
  runsBetween,
  timetableFor,
  type TimeRestriction,
} from '../../src/timetables/index.js';

const H = 3_600_000;
const D = 24 * H;
const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

function all(
  spec: Parameters<typeof timetableFor>[0],
  tz: string,
  r: TimeRestriction,
  now: number,
  max = 500,
) {
  const tt = timetableFor(spec, tz);
  const out = [];
  let last = null;
  for (let i = 0; i < max; i++) {
    const info = tt.nextDagRunInfo(last, r, now);
    if (!info || info.runAfter > now) break;
    out.push(info);
    last = info.dataInterval;
  }
  return out;
}

describe('cron boundaries', () => {
  const b = new CronBoundaries('0 0 * * *', 'UTC');
  it('finds boundaries around a point', () => {
    expect(iso(b.after(t('2024-01-01T00:00:00Z'))!)).toBe('2024-01-02T00:00:00.000Z');
    expect(iso(b.atOrAfter(t('2024-01-01T00:00:00Z'))!)).toBe('2024-01-01T00:00:00.000Z');
    expect(iso(b.atOrAfter(t('2024-01-01T00:00:00.500Z'))!)).toBe('2024-01-02T00:00:00.000Z');
    expect(iso(b.before(t('2024-01-01T00:00:00Z'))!)).toBe('2023-12-31T00:00:00.000Z');
    expect(iso(b.atOrBefore(t('2024-01-01T13:00:00Z'))!)).toBe('2024-01-01T00:00:00.000Z');
  });
  it('walks back across a year for @yearly', () => {
    const y = new CronBoundaries('0 0 1 1 *', 'UTC');
    expect(iso(y.before(t('2024-06-01T00:00:00Z'))!)).toBe('2024-01-01T00:00:00.000Z');
    expect(iso(y.before(t('2024-01-01T00:00:00Z'))!)).toBe('2023-01-01T00:00:00.000Z');
  });
});

describe('catchup counts and data intervals', () => {
  const start = t('2024-01-01T00:00:00Z');
  const now = t('2024-01-10T12:00:00Z');
  it('@daily with catchup creates one run per complete day', () => {
    const runs = all(
      { kind: 'preset', name: '@daily' },
      'UTC',
      { earliest: start, latest: null, catchup: true },
      now,
    );
    expect(runs).toHaveLength(9);
    expect(iso(runs[0]!.logicalDate)).toBe('2024-01-01T00:00:00.000Z');
    expect(iso(runs[0]!.dataInterval.end)).toBe('2024-01-02T00:00:00.000Z');
    expect(runs[0]!.runAfter).toBe(runs[0]!.dataInterval.end);
    expect(iso(runs[8]!.logicalDate)).toBe('2024-01-09T00:00:00.000Z');
  });
  it('catchup off runs only the latest complete interval', () => {
    const runs = all(
      { kind: 'preset', name: '@daily' },
      'UTC',
      { earliest: start, latest: null, catchup: false },
      now,
    );
    expect(runs).toHaveLength(1);
    expect(iso(runs[0]!.logicalDate)).toBe('2024-01-09T00:00:00.000Z');
  });
  it('end date stops the runs', () => {
    const runs = all(
      { kind: 'preset', name: '@daily' },
      'UTC',
      { earliest: start, latest: t('2024-01-04T00:00:00Z'), catchup: true },
      now,
    );
    expect(runs.map((r) => iso(r.logicalDate).slice(0, 10))).toEqual([
      '2024-01-01',
      '2024-01-02',
      '2024-01-03',
      '2024-01-04',
    ]);
  });
  it('a start date between boundaries aligns to the next boundary', () => {
    const runs = all(
      { kind: 'preset', name: '@daily' },
      'UTC',
      { earliest: t('2024-01-01T06:00:00Z'), latest: null, catchup: true },
      now,
    );
    expect(iso(runs[0]!.logicalDate)).toBe('2024-01-02T00:00:00.000Z');
    expect(runs).toHaveLength(8);
  });
  it.each([
    ['@hourly', 24 * 9 + 12],
    ['@weekly', 0], // 1 Jan 2024 is a Monday: the first Sunday interval (7th..14th) has not ended
    ['@monthly', 0],
  ] as const)('%s counts', (name, count) => {
    const runs = all(
      { kind: 'preset', name },
      'UTC',
      { earliest: start, latest: null, catchup: true },
      now,
      1000,
    );
    expect(runs).toHaveLength(count);
  });
  it('@monthly / @quarterly / @yearly intervals have calendar lengths', () => {
    const late = t('2026-01-01T00:00:00Z');
    const monthly = all(
      { kind: 'preset', name: '@monthly' },
      'UTC',
      { earliest: start, latest: null, catchup: true },
      late,
    );
    expect(monthly).toHaveLength(24);
    expect(monthly[1]!.dataInterval.end - monthly[1]!.dataInterval.start).toBe(29 * D); // Feb 2024
    const quarterly = all(
      { kind: 'preset', name: '@quarterly' },
      'UTC',
      { earliest: start, latest: null, catchup: true },
      late,
    );
    expect(quarterly.map((r) => iso(r.logicalDate).slice(0, 7))).toEqual([
      '2024-01',
      '2024-04',
      '2024-07',
      '2024-10',
      '2025-01',
      '2025-04',
      '2025-07',
      '2025-10',
    ]);
    const yearly = all(
      { kind: 'preset', name: '@yearly' },
      'UTC',
      { earliest: start, latest: null, catchup: true },
      late,
    );
    expect(yearly).toHaveLength(2);
  });
  it('cron expression every 15 minutes', () => {
    const runs = all(
      { kind: 'cron', expression: '*/15 * * * *' },
      'UTC',
      { earliest: start, latest: null, catchup: true },
      start + 2 * H,
    );
    expect(runs).toHaveLength(8);
    expect(runs[1]!.logicalDate - runs[0]!.logicalDate).toBe(15 * 60_000);
  });
  it('fixed interval counts from the start date without alignment', () => {
    const s = t('2024-01-01T00:07:00Z');
    const runs = all(
      { kind: 'interval', everyMs: 6 * H },
      'UTC',
      { earliest: s, latest: null, catchup: true },
      s + 2 * D + H,
    );
    expect(runs).toHaveLength(8);
    expect(iso(runs[1]!.logicalDate)).toBe('2024-01-01T06:07:00.000Z');
    const latest = all(
      { kind: 'interval', everyMs: 6 * H },
      'UTC',
      { earliest: s, latest: null, catchup: false },
      s + 2 * D + H,
    );
    expect(latest).toHaveLength(1);
    expect(iso(latest[0]!.logicalDate)).toBe('2024-01-02T18:07:00.000Z');
  });
  it('@once runs once at the start date; manual-only never', () => {
    const once = all(
      { kind: 'preset', name: '@once' },
      'UTC',
      { earliest: start, latest: null, catchup: true },
      now,
    );
    expect(once).toHaveLength(1);
    expect(once[0]!.logicalDate).toBe(start);
    expect(all(null, 'UTC', { earliest: start, latest: null, catchup: true }, now)).toHaveLength(0);
  });
});

describe('time zones and DST', () => {
  it('midnight in Europe/Berlin: the spring-forward day lasts 23 h, the fall-back day 25 h', () => {
    const r = { earliest: t('2024-03-29T23:00:00Z'), latest: null, catchup: true };
    const spring = all({ kind: 'preset', name: '@daily' }, 'Europe/Berlin', r, t('2024-04-02T00:00:00Z'));
    expect(spring.map((x) => iso(x.logicalDate))).toEqual([
      '2024-03-29T23:00:00.000Z', // 30 Mar 00:00 CET
      '2024-03-30T23:00:00.000Z', // 31 Mar 00:00 CET
      '2024-03-31T22:00:00.000Z', // 1 Apr 00:00 CEST
    ]);
    expect(spring[1]!.dataInterval.end - spring[1]!.dataInterval.start).toBe(23 * H);
    const fall = all(
      { kind: 'cron', expression: '0 0 * * *' },
      'Europe/Berlin',
      { earliest: t('2024-10-26T22:00:00Z'), latest: null, catchup: true },
      t('2024-10-29T00:00:00Z'),
    );
    expect(fall[0]!.dataInterval.end - fall[0]!.dataInterval.start).toBe(25 * H);
  });
  it('09:30 in America/New_York stays 09:30 local across the change', () => {
    const runs = all(
      { kind: 'cron', expression: '30 9 * * *' },
      'America/New_York',
      { earliest: t('2024-03-08T00:00:00Z'), latest: null, catchup: true },
      t('2024-03-13T00:00:00Z'),
    );
    expect(runs.map((x) => iso(x.logicalDate).slice(11, 16))).toEqual(['14:30', '14:30', '13:30', '13:30']);
  });
  it('a fixed interval is unaffected by DST', () => {
    const s = t('2024-03-30T12:00:00Z');
    const runs = all(
      { kind: 'interval', everyMs: D },
      'Europe/Berlin',
      { earliest: s, latest: null, catchup: true },
      s + 3 * D,
    );
    expect(runs.every((x) => x.dataInterval.end - x.dataInterval.start === D)).toBe(true);
  });
});

describe('manual and backfill intervals', () => {
  it('a manual run of a daily DAG covers the previous complete day', () => {
    const di = timetableFor({ kind: 'preset', name: '@daily' }, 'UTC').inferManualDataInterval(
      t('2024-01-05T10:00:00Z'),
    );
    expect(iso(di.start)).toBe('2024-01-04T00:00:00.000Z');
    expect(iso(di.end)).toBe('2024-01-05T00:00:00.000Z');
  });
  it('runsBetween lists logical dates inclusive of both ends', () => {
    const runs = runsBetween(
      timetableFor({ kind: 'preset', name: '@daily' }, 'UTC'),
      { earliest: t('2023-01-01T00:00:00Z'), latest: null, catchup: false },
      t('2024-01-01T00:00:00Z'),
      t('2024-01-05T00:00:00Z'),
    );
    expect(runs.map((r) => iso(r.logicalDate).slice(0, 10))).toEqual([
      '2024-01-01',
      '2024-01-02',
      '2024-01-03',
      '2024-01-04',
      '2024-01-05',
    ]);
  });
});
