import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMetadataDb, type MetadataDb } from '../../src/db/index.js';
import { withLockWait } from '../../src/db/sqlite-lock-wait.js';

/**
 * Another process takes the write lock (BEGIN IMMEDIATE) for `holdMs`, then commits. Resolves once
 * it holds the lock; `done` settles when it has let go.
 */
async function holdWriteLock(file: string, holdMs: number): Promise<{ done: Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(file)});
    db.prepare('begin immediate').run();
    db.prepare('insert into t values (0)').run();
    process.stdout.write('locked\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${holdMs});
    db.prepare('commit').run();
  `;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const done = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`holder exited ${code}`)))),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve();
    });
    child.on('exit', () => reject(new Error('the lock holder exited before taking the lock')));
  });
  return { done };
}

describe('SQLite lock wait', () => {
  let dir: string;
  let file: string;
  let store: MetadataDb | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'updraft-lockwait-'));
    file = join(dir, 'airflow.db');
    const setup = new Database(file);
    setup.pragma('journal_mode = WAL');
    setup.exec('create table t (x integer)');
    setup.close();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('a write waits for the lock another process holds, then goes through', async () => {
    store = await openMetadataDb(`sqlite:///${file}`);
    const holder = await holdWriteLock(file, 150);
    const started = performance.now();
    await sql`insert into t values (1)`.execute(store.kysely);
    const waited = performance.now() - started;
    await holder.done;
    expect(waited).toBeGreaterThan(50);
    const rows = await sql<{ x: number }>`select x from t order by x`.execute(store.kysely);
    expect(rows.rows).toEqual([{ x: 0 }, { x: 1 }]);
  });

  it('a transaction takes the write lock when it begins (waiting for it there, not failing later)', async () => {
    store = await openMetadataDb(`sqlite:///${file}`);
    const holder = await holdWriteLock(file, 150);
    // Read first, write second: under a deferred BEGIN the write would need a lock upgrade that
    // fails at once (SQLITE_BUSY_SNAPSHOT) because the holder commits in between.
    const seen = await store.kysely.transaction().execute(async (trx) => {
      const before = await sql<{ n: number }>`select count(*) as n from t`.execute(trx);
      await sql`insert into t values (2)`.execute(trx);
      return before.rows[0]!.n;
    });
    await holder.done;
    expect(seen).toBe(1); // the transaction began after the holder's commit
    const rows = await sql<{ x: number }>`select x from t order by x`.execute(store.kysely);
    expect(rows.rows).toEqual([{ x: 0 }, { x: 2 }]);
  });

  it('gives up with SQLITE_BUSY after its timeout and changes nothing', async () => {
    const raw = new Database(file);
    raw.pragma('busy_timeout = 0');
    const db = withLockWait(raw, { timeoutMs: 30 });
    const holder = await holdWriteLock(file, 400);
    const started = performance.now();
    expect(() => db.prepare('insert into t values (3)').run([])).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^SQLITE_BUSY/) }),
    );
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(350);
    await holder.done;
    expect(db.prepare('select x from t order by x').all([])).toEqual([{ x: 0 }]);
    db.close();
  });
});
