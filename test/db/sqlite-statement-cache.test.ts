import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { withStatementCache } from '../../src/db/sqlite-statement-cache.js';
import { openTaskLogger } from '../../src/task-runner/task-log.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('SQLite statement cache', () => {
  it('returns the prepared statement for repeated SQL, a fresh one while it is busy, and evicts the oldest', () => {
    const raw = new Database(':memory:');
    const db = withStatementCache(raw, 2);
    db.prepare('create table t (x integer)').run([]);
    db.prepare('insert into t values (?), (?)').run([1, 2]);
    const select = 'select x from t order by x';
    const a = db.prepare(select);
    expect(db.prepare(select)).toBe(a);
    const iterator = a.iterate([]);
    iterator.next(); // `a` is busy until the iteration ends
    const b = db.prepare(select);
    expect(b).not.toBe(a);
    expect(b.all([])).toEqual([{ x: 1 }, { x: 2 }]);
    iterator.return?.();
    expect(db.prepare(select)).toBe(a);
    // Capacity 2: two other statements push `select` out.
    db.prepare('select 1 as one');
    db.prepare('select 2 as two');
    expect(db.prepare(select)).not.toBe(a);
    db.close();
  });
});

describe('task log with deferFile', () => {
  it('holds lines until openFile, and leaves no file when discarded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'updraft-log-defer-'));
    try {
      const kept = join(dir, 'kept', 'attempt=1.log');
      const log = openTaskLogger({ path: kept, deferFile: true });
      log.info('before the claim');
      expect(existsSync(kept)).toBe(false);
      log.openFile();
      log.info('after the claim');
      log.close();
      const text = readFileSync(kept, 'utf8');
      expect(text.indexOf('before the claim')).toBeGreaterThan(-1);
      expect(text.indexOf('before the claim')).toBeLessThan(text.indexOf('after the claim'));

      const dropped = join(dir, 'dropped', 'attempt=1.log');
      const other = openTaskLogger({ path: dropped, deferFile: true });
      other.info('never written');
      other.discard();
      other.info('nor this');
      other.close();
      expect(existsSync(join(dir, 'dropped'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
