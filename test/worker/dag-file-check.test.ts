import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/dag-processing/source-hash.js';
import { migrateToLatest, openMetadataDb, type MetadataDb } from '../../src/db/index.js';
import { DagFileChecker } from '../../src/worker/dag-file-check.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

/**
 * The worker keeps what the DAG processor recorded for a file for a second (as the scheduler keeps
 * a DAG's structure), so a chain of tries does not read the metadata DB before each start. Its own
 * file is still looked at for every try, and a kept answer never fails a try.
 */
describe('DagFileChecker', () => {
  let database: TestDatabase;
  let metadata: MetadataDb;
  let dir: string;
  let fileloc: string;
  const options = () => ({
    fileloc,
    schedulerDagsFolder: dir,
    workerDagsFolder: dir,
    hostname: 'w1',
  });
  const recordParsed = async (source: string) => {
    await metadata.kysely.deleteFrom('dag_code').where('fileloc', '=', fileloc).execute();
    await metadata.kysely
      .insertInto('dag_code')
      .values({
        fileloc,
        source_code: source,
        source_hash: sha256(source),
        dependencies: null,
        last_updated: 0,
      })
      .execute();
  };

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    metadata = await openMetadataDb(database.url);
    await migrateToLatest(metadata);
    dir = await mkdtemp(join(tmpdir(), 'updraft-dagcheck-'));
    fileloc = join(dir, 'd.ts');
  });
  afterAll(async () => {
    await metadata?.close();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the recorded hash once per second, sees a changed or missing local file at once, and re-reads before failing a try', async () => {
    await writeFile(fileloc, 'v1');
    await recordParsed('v1');
    const checker = new DagFileChecker(metadata.kysely, 1000);
    expect(await checker.check(options(), 0)).toBeNull();

    // Re-parsed to v2 while this host still has v1: within the second the kept answer holds
    // (the scheduler schedules from its kept parse as long), after it the try fails.
    await recordParsed('v2');
    expect(await checker.check(options(), 500)).toBeNull();
    expect(await checker.check(options(), 1500)).toMatch(/differs from the one the scheduler parsed/);

    // v3 deployed here and parsed: the kept (v2) answer would fail it, so it is read again.
    await writeFile(fileloc, 'v3, longer');
    await recordParsed('v3, longer');
    expect(await checker.check(options(), 1600)).toBeNull();

    // A local change is seen at once, kept answer or not.
    await writeFile(fileloc, 'v4, changed here');
    expect(await checker.check(options(), 1700)).toMatch(/differs from the one the scheduler parsed/);
    await rm(fileloc);
    expect(await checker.check(options(), 1800)).toMatch(/is missing on worker w1/);
  });
});
