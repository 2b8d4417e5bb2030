import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransientDbError, retryTransient, transactionWithRetry } from '../../src/db/transient-errors.js';
import type { MetadataDb } from '../../src/db/index.js';
import { openTestDb } from '../support/databases.js';

interface DeadlockDb {
  dl: { id: number; v: number };
}

/** Two transactions that lock rows 1 and 2 in opposite orders: a real deadlock on the server. */
function deadlockPair(
  db: Kysely<DeadlockDb>,
  run: (work: (trx: Kysely<DeadlockDb>) => Promise<void>) => Promise<void>,
) {
  let arrived = 0;
  let release!: () => void;
  const bothHoldFirstLock = new Promise<void>((r) => (release = r));
  const side = (first: number, second: number) =>
    run(async (trx) => {
      await sql`update dl set v = v + 1 where id = ${first}`.execute(trx);
      if (++arrived === 2) release();
      await bothHoldFirstLock;
      await sql`update dl set v = v + 1 where id = ${second}`.execute(trx);
    });
  return Promise.allSettled([side(1, 2), side(2, 1)]);
}

describe.each(['mysql', 'postgres'] as const)('deadlocks on %s', (dialect) => {
  let meta: MetadataDb;
  let cleanup: () => Promise<void>;
  const db = () => meta.kysely as unknown as Kysely<DeadlockDb>;

  beforeAll(async () => {
    ({ db: meta, cleanup } = await openTestDb(dialect));
    await sql`create table dl (id integer primary key, v integer not null)`.execute(db());
  });
  afterAll(async () => cleanup?.());

  const reset = () =>
    sql`delete from dl`.execute(db()).then(() => sql`insert into dl values (1, 0), (2, 0)`.execute(db()));
  const values = async () =>
    (await sql<{ v: number }>`select v from dl order by id`.execute(db())).rows.map((r) => Number(r.v));

  it('a plain transaction pair loses one side to a deadlock, and the error is classed as transient', async () => {
    await reset();
    const results = await deadlockPair(db(), (work) => db().transaction().execute(work));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(isTransientDbError(rejected[0]!.reason)).toBe(true);
    expect(await values()).toEqual([1, 1]);
  });

  it('transactionWithRetry runs the loser again, so both commit', async () => {
    await reset();
    const results = await deadlockPair(db(), (work) => transactionWithRetry(db(), work));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(await values()).toEqual([2, 2]);
  });
});

describe('retryTransient', () => {
  it('retries transient errors only, and gives up after the attempts', async () => {
    let calls = 0;
    const deadlock = Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK' });
    await expect(
      retryTransient(async () => (++calls < 3 ? Promise.reject(deadlock) : 'ok'), { baseDelayMs: 1 }),
    ).resolves.toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      retryTransient(async () => (++calls, Promise.reject(new Error('syntax'))), { baseDelayMs: 1 }),
    ).rejects.toThrow('syntax');
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      retryTransient(async () => (++calls, Promise.reject(deadlock)), { attempts: 4, baseDelayMs: 1 }),
    ).rejects.toBe(deadlock);
    expect(calls).toBe(4);
  });
});
