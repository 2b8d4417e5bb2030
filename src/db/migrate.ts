import { setTimeout as sleep } from 'node:timers/promises';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { DatabaseError } from '../errors.js';
import { assertOwnSchema } from './foreign-schema.js';
import { columnKit } from './migrations/column-types.js';
import { MIGRATION_NAMES, MIGRATION_TABLE } from './migration-names.js';
import * as m0001 from './migrations/0001_initial.js';
import * as m0002 from './migrations/0002_ti_queue_order_index.js';
import * as m0003 from './migrations/0003_dag_code_dependencies.js';
import * as m0004 from './migrations/0004_callback_request.js';
import * as m0005 from './migrations/0005_ti_active_count_index.js';
import * as m0006 from './migrations/0006_sign_in_limits_and_sessions.js';
import * as m0007 from './migrations/0007_job_try_key.js';
import type { MetadataDb } from './open.js';

/**
 * Numbered migrations, compiled in (no file-system discovery, so the built package is all that
 * is needed). Kysely's migrator takes a lock row first, so two processes running `db migrate` at
 * once apply each migration exactly once.
 */
const MIGRATIONS = {
  '0001_initial': m0001,
  '0002_ti_queue_order_index': m0002,
  '0003_dag_code_dependencies': m0003,
  '0004_callback_request': m0004,
  '0005_ti_active_count_index': m0005,
  '0006_sign_in_limits_and_sessions': m0006,
  '0007_job_try_key': m0007,
} as const;

export { MIGRATION_NAMES, MIGRATION_TABLE };
// The list kept apart in migration-names.ts must name exactly these migrations.
if (Object.keys(MIGRATIONS).sort().join() !== MIGRATION_NAMES.join())
  throw new Error('internal: src/db/migration-names.ts does not list the migrations of src/db/migrate.ts');
export const MIGRATION_LOCK_TABLE = 'updraft_migration_lock';

function migrator(db: MetadataDb, kysely: Kysely<unknown> = db.kysely as Kysely<unknown>): Migrator {
  const kit = columnKit(db.dialect);
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, mod] of Object.entries(MIGRATIONS)) {
        out[name] = { up: (k) => mod.up(k, kit), down: (k) => mod.down(k, kit) };
      }
      return out;
    },
  };
  return new Migrator({
    db: kysely,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

export interface MigrationStatus {
  applied: string[];
  pending: string[];
}

/** Bring the schema up to date; a no-op when it already is. Returns the migrations applied now. */
export async function migrateToLatest(db: MetadataDb): Promise<string[]> {
  await assertOwnSchema(db, [MIGRATION_TABLE, MIGRATION_LOCK_TABLE]);
  if (db.dialect !== 'sqlite') return runMigrations(db);
  // better-sqlite3 waits for a lock synchronously, blocking the event loop: two connections of the
  // same process migrating at once would stall each other. Serialize them here; other processes are
  // kept out by the write lock runSqliteMigrations takes.
  const run = sqliteMigrations.then(() => runSqliteMigrations(db));
  sqliteMigrations = run.catch(() => undefined);
  return run;
}

let sqliteMigrations: Promise<unknown> = Promise.resolve();

/** How long a second process waits for another one's SQLite migration before giving up. */
const SQLITE_MIGRATION_WAIT_MS = 120_000;

/**
 * Kysely's SQLite adapter takes no migration lock (it assumes one connection per database), so two
 * `updraft db migrate` processes on one file would both read "nothing applied" and both create
 * the tables. Here the whole run (reading the state included) happens inside one
 * `BEGIN IMMEDIATE` transaction: the second process waits for the first to commit, then finds
 * nothing to do. A failed migration rolls back completely.
 */
async function runSqliteMigrations(db: MetadataDb): Promise<string[]> {
  return db.kysely.connection().execute(async (conn) => {
    const deadline = Date.now() + SQLITE_MIGRATION_WAIT_MS;
    for (;;) {
      try {
        await sql`begin immediate`.execute(conn);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
    try {
      const applied = await runMigrations(db, conn as Kysely<unknown>);
      await sql`commit`.execute(conn);
      return applied;
    } catch (error) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw error;
    }
  });
}

async function runMigrations(db: MetadataDb, kysely?: Kysely<unknown>): Promise<string[]> {
  const { error, results } = await migrator(db, kysely).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new DatabaseError(
      `Migration ${failed ?? ''} failed: ${(error as Error).message}`.replace('  ', ' '),
      {
        cause: error,
      },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export async function migrationStatus(db: MetadataDb): Promise<MigrationStatus> {
  const all = await migrator(db).getMigrations();
  return {
    applied: all.filter((m) => m.executedAt).map((m) => m.name),
    pending: all.filter((m) => !m.executedAt).map((m) => m.name),
  };
}

/** Drop every table (ours and the migrator's). `db reset` calls this, then migrates again. */
export async function dropAll(db: MetadataDb): Promise<void> {
  await assertOwnSchema(db, [MIGRATION_TABLE, MIGRATION_LOCK_TABLE]);
  // Tables created after 0001 first, newest migration first (indexes and columns added later go
  // with their tables); then 0001's own. Each is dropped only if there, so a half-migrated database
  // resets as well. A migration that creates tables lists them in `createdTables`, so a new one
  // cannot be left behind here.
  const later = MIGRATION_NAMES.slice(1).reverse();
  for (const name of later) {
    const mod = MIGRATIONS[name as keyof typeof MIGRATIONS];
    const tables: readonly string[] = 'createdTables' in mod ? mod.createdTables : [];
    for (const table of tables) {
      await db.kysely.schema.dropTable(table).ifExists().execute();
    }
  }
  await m0001.down(db.kysely as never);
  for (const t of [MIGRATION_TABLE, MIGRATION_LOCK_TABLE]) {
    await db.kysely.schema.dropTable(t).ifExists().execute();
  }
}

/** Commands that read or write data call this first: an unmigrated DB gets a clear instruction. */
export async function assertMigrated(db: MetadataDb): Promise<void> {
  const { applied, pending } = await migrationStatus(db);
  if (applied.length === 0) {
    await assertOwnSchema(db, [MIGRATION_TABLE, MIGRATION_LOCK_TABLE]);
    throw new DatabaseError(
      'The metadata database is not initialized. Run `updraft db migrate` (or `db init`) first.',
    );
  }
  if (pending.length > 0) {
    throw new DatabaseError(
      `The metadata database needs migrations (${pending.join(', ')}). Run \`updraft db migrate\`.`,
    );
  }
}
