import { sql, WithSchemaPlugin, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryTemplate } from '../../src/db/query-template.js';
import type { Database } from '../../src/db/tables.js';
import { openTestDb, TEST_DIALECTS, type OpenTestDb } from '../support/databases.js';

/**
 * Statements compiled once and re-bound (src/db/query-template.ts): the bound statement is the one
 * Kysely compiles from the values themselves, it runs on each real server, the compile happens
 * once per dialect, and a template whose shape would depend on its values is refused.
 */

const POOL_SEED = [
  { pool: 'alpha', slots: 4, description: 'first', include_deferred: 0 },
  { pool: 'beta', slots: 2, description: null, include_deferred: 1 },
];

describe.each(TEST_DIALECTS)('query templates on %s', (dialect) => {
  let t: OpenTestDb;
  let db: Kysely<Database>;
  beforeAll(async () => {
    t = await openTestDb(dialect);
    db = t.db.kysely;
    await db.deleteFrom('slot_pool').execute();
    await db.insertInto('slot_pool').values(POOL_SEED).execute();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  let builds = 0;
  const setSlots = queryTemplate(['pool', 'slots', 'description'], (db, v) => {
    builds += 1;
    return db
      .updateTable('slot_pool')
      .set({ slots: v.slots, description: v.description, include_deferred: 0 })
      .where('pool', '=', v.pool)
      .where('include_deferred', 'in', [0, 1]);
  });

  it('binds to the statement Kysely compiles from the same values, and runs it', async () => {
    const values = { pool: 'alpha', slots: 7, description: null };
    const bound = setSlots.bind(db, values);
    const direct = setSlots.compileDirect(db, values);
    expect(bound.sql).toBe(direct.sql);
    expect(bound.parameters).toEqual(direct.parameters);
    // The constants of the build stay where they were compiled.
    expect(bound.parameters).toEqual([7, null, 0, 'alpha', 0, 1]);
    const result = await db.executeQuery(bound);
    expect(Number(result.numAffectedRows)).toBe(1);
    const rows = await db
      .selectFrom('slot_pool')
      .select(['pool', 'slots', 'description'])
      .orderBy('pool')
      .execute();
    expect(rows).toEqual([
      { pool: 'alpha', slots: 7, description: null },
      { pool: 'beta', slots: 2, description: null },
    ]);
  });

  it('compiles once per dialect: later binds, and binds inside a transaction, reuse the first compile', async () => {
    builds = 0;
    setSlots.bind(db, { pool: 'beta', slots: 3, description: 'x' });
    const afterFirst = builds;
    await db.transaction().execute(async (trx) => {
      const result = await trx.executeQuery(
        setSlots.bind(trx, { pool: 'beta', slots: 5, description: 'in trx' }),
      );
      expect(Number(result.numAffectedRows)).toBe(1);
    });
    setSlots.bind(db, { pool: 'alpha', slots: 1, description: 'y' });
    expect(builds).toBe(afterFirst);
    const beta = await db
      .selectFrom('slot_pool')
      .select(['slots', 'description'])
      .where('pool', '=', 'beta')
      .executeTakeFirst();
    expect(beta).toEqual({ slots: 5, description: 'in trx' });
  });

  it('binds a select with subqueries written as sql, and a value used twice', async () => {
    const read = queryTemplate(['pool', 'minSlots'], (db, v) =>
      db
        .selectFrom('slot_pool as p')
        .select([
          'p.pool',
          sql<number>`(select count(*) from slot_pool q where q.slots >= ${v.minSlots})`.as('n'),
        ])
        .where('p.pool', '=', v.pool)
        .where('p.slots', '>=', v.minSlots),
    );
    const values = { pool: 'beta', minSlots: 2 };
    const bound = read.bind(db, values);
    expect(bound.parameters).toEqual(read.compileDirect(db, values).parameters);
    expect(bound.parameters).toEqual([2, 'beta', 2]);
    const { rows } = await db.executeQuery<{ pool: string; n: number }>(bound);
    // alpha has 7 slots, beta 5 (from the tests above).
    expect(rows.map((r) => ({ pool: r.pool, n: Number(r.n) }))).toEqual([{ pool: 'beta', n: 2 }]);
  });

  it('falls back to a full compile on a handle with plugins (they rewrite the tree before compiling)', () => {
    const schema = db.withPlugin(new WithSchemaPlugin('elsewhere'));
    const named = queryTemplate(['pool'], (db, v) =>
      db.selectFrom('slot_pool').select('include_deferred').where('pool', '=', v.pool),
    );
    const plain = named.bind(db, { pool: 'alpha' });
    const withPlugin = named.bind(schema, { pool: 'alpha' });
    expect(withPlugin.sql).toBe(named.compileDirect(schema, { pool: 'alpha' }).sql);
    expect(withPlugin.sql).toContain('elsewhere');
    expect(plain.sql).not.toContain('elsewhere');
  });
});

describe('query template guards', () => {
  let t: OpenTestDb;
  beforeAll(async () => {
    t = await openTestDb('sqlite');
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('refuses an undefined value, which Kysely would drop from a SET (another shape)', () => {
    const template = queryTemplate(['pool', 'slots'], (db, v) =>
      db.updateTable('slot_pool').set({ slots: v.slots }).where('pool', '=', v.pool),
    );
    expect(() => template.bind(t.db.kysely, { pool: 'alpha', slots: undefined })).toThrow(
      /no value for slots/,
    );
  });

  it('refuses a value the build forgot or consumed instead of passing it as a parameter', () => {
    const forgotten = queryTemplate(['pool', 'slots'], (db, v) =>
      db.selectFrom('slot_pool').select('slots').where('pool', '=', v.pool),
    );
    expect(() => forgotten.bind(t.db.kysely, { pool: 'alpha', slots: 1 })).toThrow(
      /slots did not become parameters/,
    );
    const stringified = queryTemplate(['description'], (db, v) =>
      db.updateTable('slot_pool').set({ description: JSON.stringify(v.description) }),
    );
    expect(() => stringified.bind(t.db.kysely, { description: 'x' })).toThrow(
      /description did not become parameters/,
    );
  });
});
