import type { Kysely } from 'kysely';
import { assertMigrated, type MetadataDb } from '../db/index.js';
import type { Database } from '../db/tables.js';
import type { CliEnv } from './command-kit.js';

/** The metadata DB for commands that use data: opened once and checked to be migrated. */
export async function migratedStore(cli: CliEnv): Promise<MetadataDb> {
  const store = await cli.context().db();
  await assertMigrated(store);
  return store;
}

/** The metadata DB, after checking it is migrated (a clear error instead of "no such table"). */
export async function migratedDb(cli: CliEnv): Promise<Kysely<Database>> {
  const db = await cli.context().db();
  await assertMigrated(db);
  return db.kysely;
}
