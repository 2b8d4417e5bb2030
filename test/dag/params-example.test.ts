import { describe, expect, it } from 'vitest';
import { DAG, Param, validateParams } from '../../src/index.js';

/**
 * Issue 22: the README's params example. A param with a default and a schema is written
 * `new Param('eu', { enum: [...] })` (Airflow's Param('eu', enum=[...])); a plain object is the
 * param's value itself, as a dict is in Airflow.
 */
describe('params as the docs write them', () => {
  it('new Param(default, schema) is a param with a default and a schema', () => {
    const d = new DAG({ dagId: 'p', params: { region: new Param('eu', { enum: ['eu', 'us'] }) } });
    const params = d.serialize().params;
    expect(params).toEqual({ region: { default: 'eu', schema: { enum: ['eu', 'us'] } } });
    expect(() => validateParams(params, { region: 'us' })).not.toThrow();
    expect(() => validateParams(params, { region: 'mars' })).toThrow(/region/);
  });

  it('a plain object is the value itself (as a dict is in Airflow)', () => {
    const d = new DAG({ dagId: 'p', params: { limits: { low: 1, high: 5 } } });
    expect(d.serialize().params).toEqual({ limits: { default: { low: 1, high: 5 } } });
  });
});
