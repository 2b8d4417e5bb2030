import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { renderDefaultConfig } from '../../src/config/default-file.js';
import { dropAll, migrateToLatest, openMetadataDb, type MetadataDb } from '../../src/db/index.js';
import { ConfigError } from '../../src/errors.js';
import { createTestDatabase, TEST_DIALECTS, type TestDatabase } from '../support/databases.js';

/**
 * Issue 22: the default AIRFLOW_HOME is Airflow's, so Updraft may be pointed at a real Airflow
 * database. It must never migrate or reset a database another program owns.
 */
describe.each(TEST_DIALECTS)('a database Updraft does not own, on %s', (dialect) => {
  let database: TestDatabase | undefined;
  let db: MetadataDb | undefined;
  afterEach(async () => {
    await db?.close();
    await database?.drop();
    db = undefined;
    database = undefined;
  });

  async function open(): Promise<MetadataDb> {
    database = await createTestDatabase(dialect);
    db = await openMetadataDb(database.url);
    return db;
  }
  const tables = async (d: MetadataDb) =>
    (await d.kysely.introspection.getTables()).map((t) => t.name).filter((n) => !n.startsWith('sqlite_'));

  it("is refused when it holds Airflow's schema, and nothing is created or dropped", async () => {
    const d = await open();
    await sql`create table alembic_version (version_num varchar(32) not null primary key)`.execute(d.kysely);
    await sql`create table dag (dag_id varchar(250) not null primary key)`.execute(d.kysely);
    const before = (await tables(d)).sort();
    await expect(migrateToLatest(d)).rejects.toThrow(ConfigError);
    await expect(migrateToLatest(d)).rejects.toThrow(/holds an Apache Airflow metadata schema/);
    await expect(dropAll(d)).rejects.toThrow(/alembic_version/);
    expect((await tables(d)).sort()).toEqual(before);
  });

  it('is refused when it holds tables Updraft does not create', async () => {
    const d = await open();
    await sql`create table orders (id integer primary key)`.execute(d.kysely);
    await expect(migrateToLatest(d)).rejects.toThrow(/not an Updraft database: .*\(orders\)/);
    expect(await tables(d)).toEqual(['orders']);
  });

  it('an empty database and an Updraft one migrate as before', async () => {
    const d = await open();
    expect((await migrateToLatest(d)).length).toBeGreaterThan(0);
    expect(await migrateToLatest(d)).toEqual([]);
  });
});

describe('an airflow.cfg Updraft did not write', () => {
  let home: string;
  afterEach(async () => rm(home, { recursive: true, force: true }));

  it("gives one warning when it holds keys Updraft does not know (Airflow's own file)", async () => {
    home = await mkdtemp(join(tmpdir(), 'updraft-foreign-cfg-'));
    await writeFile(
      join(home, 'airflow.cfg'),
      '[core]\ndags_folder = /srv/dags\nkilled_task_cleanup_time = 30\nlazy_load_plugins = True\n[celery]\nworker_concurrency = 16\nworker_autoscale = 16,12\n[sentry]\nsentry_on = False\n',
    );
    const config = loadConfig({ env: { AIRFLOW_HOME: home } });
    expect(config.values.core.dags_folder).toBe('/srv/dags');
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toMatch(
      /was not written by Updraft and holds 3 key\(s\) Updraft does not know/,
    );
  });

  it('a file Updraft wrote warns per unknown key', async () => {
    home = await mkdtemp(join(tmpdir(), 'updraft-own-cfg-'));
    await writeFile(join(home, 'airflow.cfg'), renderDefaultConfig(home) + '\n[sentry]\nsentry_on = False\n');
    const config = loadConfig({ env: { AIRFLOW_HOME: home } });
    expect(config.warnings).toEqual([
      expect.stringMatching(/\[sentry\] sentry_on is not a key Updraft knows/),
    ]);
  });
});
