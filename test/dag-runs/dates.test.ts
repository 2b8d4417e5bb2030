import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDate } from '../../src/dag-runs/index.js';
import { ValidationError } from '../../src/errors.js';
import { basic, fixtureDag, insertDag, startWebFixture, type WebFixture } from '../web/web-fixture.js';

/** The one date parser of the CLI and the REST API: ISO 8601, strictly. */
describe('parseDate', () => {
  it.each([
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2024-01-02T03:04:05Z', '2024-01-02T03:04:05.000Z'],
    ['2024-01-02T03:04:05.250+02:00', '2024-01-02T01:04:05.250Z'],
    ['2024-01-02 03:04', '2024-01-02T03:04:00.000Z'],
    ['2024-01-02T03:04:05-0130', '2024-01-02T04:34:05.000Z'],
    ['20240102', '2024-01-02T00:00:00.000Z'],
    ['20240102T030405Z', '2024-01-02T03:04:05.000Z'],
  ])('accepts %s', (text, iso) => {
    expect(new Date(parseDate(text)).toISOString()).toBe(iso);
  });

  it.each([
    '2024-02-30',
    '2023-02-29',
    '-1',
    '1',
    '99999-01-01',
    'Tue Jan 2 2024',
    '2024-13-01',
    '2024-01-01T24:00:00',
    '2024-01-01T12:60',
    '2024-01-01T00:00:00+25:00',
    '0000-01-01',
    '2024-1-1',
    '',
  ])('refuses %j', (text) => {
    expect(() => parseDate(text)).toThrow(ValidationError);
  });
});

describe('logical_date in the REST API', () => {
  let f: WebFixture;
  beforeAll(async () => {
    f = await startWebFixture('sqlite', {
      AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth',
    });
    await insertDag(f.store, fixtureDag('etl_daily'));
  });
  afterAll(async () => f?.close());

  it.each(['1', 'Tue Jan 2 2024', '2024-02-30', '99999-01-01'])(
    'refuses %j with a 400 problem',
    async (value) => {
      const res = await f.app.inject({
        method: 'POST',
        url: '/api/v1/dags/etl_daily/dagRuns',
        headers: { authorization: basic('admin') },
        payload: { logical_date: value },
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(await f.store.kysely.selectFrom('dag_run').select('run_id').execute()).toEqual([]);
    },
  );
});
