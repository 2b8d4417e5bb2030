import { assertMigrated, type MetadataDb } from '../../db/index.js';
import type { CliEnv } from '../command-kit.js';

/** The metadata DB for commands that use data: opened once and checked to be migrated. */
export async function migratedStore(cli: CliEnv): Promise<MetadataDb> {
  const store = await cli.context().db();
  await assertMigrated(store);
  return store;
}
