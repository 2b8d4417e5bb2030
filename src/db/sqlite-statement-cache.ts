import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Kysely's SQLite driver prepares every statement afresh; compiling SQL in SQLite costs more than
 * running a small indexed query. The scheduler and the task runners issue the same few dozen
 * statements over and over, so keep the prepared statements (least recently used dropped first).
 * A statement still being iterated is busy and cannot be run again; such a call gets a fresh one.
 */
interface BetterSqliteStatement extends SqliteStatement {
  readonly busy: boolean;
}
interface BetterSqliteDatabase {
  close(): unknown;
  prepare(sql: string): BetterSqliteStatement;
}

export function withStatementCache(db: BetterSqliteDatabase, capacity = 256): SqliteDatabase {
  const cache = new Map<string, BetterSqliteStatement>();
  return {
    close: () => {
      cache.clear();
      db.close();
    },
    prepare(sql: string): SqliteStatement {
      const hit = cache.get(sql);
      if (hit && !hit.busy) {
        // Map order is insertion order: re-insert to mark it most recently used.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const statement = db.prepare(sql);
      if (!hit) {
        cache.set(sql, statement);
        if (cache.size > capacity) cache.delete(cache.keys().next().value!);
      }
      return statement;
    },
  };
}
