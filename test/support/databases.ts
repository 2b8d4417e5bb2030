import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrateToLatest, openMetadataDb, type MetadataDb } from '../../src/db/index.js';

/**
 * Fresh, real databases for tests: one uniquely named database per call on the local MariaDB and
 * PostgreSQL servers (started by global-setup.ts), or a temp file for SQLite. URLs take the forms
 * users write in airflow.cfg.
 */
export type TestDialect = 'sqlite' | 'mysql' | 'postgres';
export const TEST_DIALECTS: TestDialect[] = ['sqlite', 'mysql', 'postgres'];
/** Every dialect, plus MySQL through MetadataDb.batches (the hot paths' multi-statement requests). */
export const BATCH_VARIANTS: { dialect: TestDialect; batches: boolean }[] = [
  ...TEST_DIALECTS.map((dialect) => ({ dialect, batches: false })),
  { dialect: 'mysql', batches: true },
];

export const MYSQL_SERVER = { host: '127.0.0.1', port: 3306, user: 'root' } as const;
export const POSTGRES_SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres' } as const;

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function uniqueName(): string {
  return `updraft_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** Create an empty database; `drop()` removes it (and is safe to call twice). */
export async function createTestDatabase(dialect: TestDialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'updraft-sqlite-'));
    return {
      url: `sqlite:///${join(dir, 'airflow.db')}`,
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const name = uniqueName();
  if (dialect === 'mysql') {
    const { createConnection } = await import('mysql2/promise');
    const admin = () => createConnection({ ...MYSQL_SERVER, connectTimeout: 10_000 });
    const conn = await admin();
    try {
      await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    } finally {
      await conn.end();
    }
    return {
      url: `mysql+pymysql://root@${MYSQL_SERVER.host}:${MYSQL_SERVER.port}/${name}`,
      async drop() {
        const c = await admin();
        try {
          await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        } finally {
          await c.end();
        }
      },
    };
  }
  const pg = (await import('pg')).default;
  const admin = async () => {
    const client = new pg.Client({
      ...POSTGRES_SERVER,
      database: 'postgres',
      connectionTimeoutMillis: 10_000,
    });
    await client.connect();
    return client;
  };
  const client = await admin();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgresql://postgres@${POSTGRES_SERVER.host}:${POSTGRES_SERVER.port}/${name}`,
    async drop() {
      const c = await admin();
      try {
        // Closed pools may still be saying goodbye; forcing would send their clients a FATAL error
        // that surfaces as an unhandled exception. Wait a little first, force only as a last resort.
        for (let attempt = 0; ; attempt++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS "${name}"${attempt >= 20 ? ' WITH (FORCE)' : ''}`);
            return;
          } catch (error) {
            if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
            await sleep(100);
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

export interface OpenTestDb {
  db: MetadataDb;
  url: string;
  cleanup(): Promise<void>;
}

/** A fresh database, opened and migrated to the latest schema. */
export async function openTestDb(dialect: TestDialect): Promise<OpenTestDb> {
  const created = await createTestDatabase(dialect);
  let db: MetadataDb;
  try {
    db = await openMetadataDb(created.url);
    await migrateToLatest(db);
  } catch (error) {
    await created.drop().catch(() => undefined);
    throw error;
  }
  return {
    db,
    url: created.url,
    async cleanup() {
      await db.close().catch(() => undefined);
      await created.drop();
    },
  };
}
