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
});
