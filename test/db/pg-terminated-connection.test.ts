import pg from 'pg';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { openTestDb, POSTGRES_SERVER } from '../support/databases.js';

/**
 * PostgreSQL ends every connection when it restarts (57P01). A connection the pool has handed out
 * and that has no statement running has nobody to report that to: unheard, node-postgres raises it
 * as an 'error' event and the process (a scheduler, a worker) crashed. It must instead fail the
 * next statement on that connection and leave the pool usable.
 */
describe('a PostgreSQL connection terminated while checked out', () => {
  it('fails its next statement instead of crashing the process; the pool opens a new one', async () => {
    const t = await openTestDb('postgres');
    const admin = new pg.Client({ ...POSTGRES_SERVER, database: 'postgres' });
    try {
      await admin.connect();
      let next: unknown;
      await t.db.kysely.connection().execute(async (conn) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn);
        await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
        // Let the termination arrive while no statement is running on the connection.
        await new Promise((r) => setTimeout(r, 300));
        next = await sql`select 1`.execute(conn).then(
          () => 'answered',
          (error: unknown) => error,
        );
      });
      expect(next).toBeInstanceOf(Error);
      const again = await sql<{ x: number }>`select 1 as x`.execute(t.db.kysely);
      expect(again.rows[0]?.x).toBe(1);
    } finally {
      await admin.end().catch(() => undefined);
      await t.cleanup();
    }
  });
});
