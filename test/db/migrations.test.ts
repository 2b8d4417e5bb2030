import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest, migrationStatus, openMetadataDb, type MetadataDb } from '../../src/db/index.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../support/databases.js';

describe.each(TEST_DIALECTS)('migrations on %s', (dialect) => {
  let created: TestDatabase;
  const opened: MetadataDb[] = [];
  const open = async () => {
    const db = await openMetadataDb(created.url);
    opened.push(db);
    return db;
  };

  beforeAll(async () => {
    created = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    for (const db of opened) await db.close().catch(() => undefined);
    await created.drop();
  });

  it('starts from an empty database with every migration pending', async () => {
    const db = await open();
    expect(db.dialect).toBe(dialect);
    const status = await migrationStatus(db);
    expect(status.applied).toEqual([]);
    expect(status.pending.length).toBeGreaterThan(0);
  });

  it('applies each migration exactly once when two processes migrate at the same time', async () => {
    const [a, b] = [await open(), await open()];
    const [appliedA, appliedB] = await Promise.all([migrateToLatest(a), migrateToLatest(b)]);
    const all = [...appliedA, ...appliedB].sort();
    const { applied, pending } = await migrationStatus(a);
    expect(pending).toEqual([]);
    // Together they applied every migration, and none twice.
    expect(all).toEqual([...applied].sort());
  });

  it('is idempotent: migrating an up-to-date database applies nothing', async () => {
    const db = await open();
    expect(await migrateToLatest(db)).toEqual([]);
  });

  it('seeds the five roles and default_pool with 128 slots', async () => {
    const db = await open();
    const roles = await db.kysely.selectFrom('ab_role').select('name').orderBy('name').execute();
    expect(roles.map((r) => r.name)).toEqual(['Admin', 'Op', 'Public', 'User', 'Viewer']);
    const pool = await db.kysely
      .selectFrom('slot_pool')
      .selectAll()
      .where('pool', '=', 'default_pool')
      .executeTakeFirst();
    expect(pool?.slots).toBe(128);
    const count = await sql<{ n: number }>`select count(*) as n from slot_pool`.execute(db.kysely);
    expect(Number(count.rows[0]?.n)).toBe(1);
  });

  it("holds what the scheduler's active count needs in idx_ti_state, so MySQL reads no table rows for it", async () => {
    const db = await open();
    const columns =
      dialect === 'mysql'
        ? (
            await sql<{ c: string }>`select column_name as c from information_schema.statistics
              where table_schema = database() and table_name = 'task_instance' and index_name = 'idx_ti_state'
              order by seq_in_index`.execute(db.kysely)
          ).rows.map((r) => r.c)
        : dialect === 'postgres'
          ? (
              await sql<{ c: string }>`select a.attname as c from pg_index i
                join pg_class x on x.oid = i.indexrelid
                join unnest(i.indkey) with ordinality as k(attnum, n) on true
                join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                where x.relname = 'idx_ti_state' order by k.n`.execute(db.kysely)
            ).rows.map((r) => r.c)
          : (await sql<{ name: string }>`pragma index_info('idx_ti_state')`.execute(db.kysely)).rows.map(
              (r) => r.name,
            );
    expect(columns).toEqual(['state', 'pool', 'dag_id', 'pool_slots']);
    if (dialect !== 'mysql') return;
    // A fan-out's worth of finished rows and a few active ones: the count comes from the index alone.
    const rows = Array.from({ length: 400 }, (_, i) => ({
      dag_id: 'fan',
      run_id: 'r',
      task_id: `t${i}`,
      state: i < 6 ? 'running' : 'success',
      pool: 'default_pool',
      queue: 'default',
      updated_at: i,
    }));
    await db.kysely.insertInto('task_instance').values(rows).execute();
    await sql`analyze table task_instance`.execute(db.kysely);
    const plan = await sql<{ key: string | null; Extra: string | null }>`explain
      select dag_id, pool, count(*) as n, sum(pool_slots) as used from task_instance
      where state in ('queued', 'running') group by dag_id, pool`.execute(db.kysely);
    expect(plan.rows[0]).toMatchObject({
      key: 'idx_ti_state',
      Extra: expect.stringContaining('Using index'),
    });
    await db.kysely.deleteFrom('task_instance').execute();
  });
});
