import { sql } from 'kysely';
import type { MetadataDb } from './open.js';
import { transactionWithRetry } from './transient-errors.js';

/**
 * Add one to a login_attempt counter (creating it at 1) and read it back, in one transaction: the
 * increment's row lock holds other increments of the same counter back until this one has read,
 * so each caller sees exactly its own place in the count (web/auth/rate-limit.ts).
 */
export function incrementLoginAttempts(
  db: MetadataDb,
  counterKey: string,
  windowStart: number,
): Promise<number> {
  return transactionWithRetry(db.kysely, async (trx) => {
    const insert = trx
      .insertInto('login_attempt')
      .values({ counter_key: counterKey, window_start: windowStart, attempts: 1 });
    if (db.dialect === 'mysql') {
      await insert.onDuplicateKeyUpdate({ attempts: sql`attempts + 1` }).execute();
    } else {
      await insert
        .onConflict((oc) =>
          oc
            .columns(['counter_key', 'window_start'])
            .doUpdateSet({ attempts: sql`login_attempt.attempts + 1` }),
        )
        .execute();
    }
    const row = await trx
      .selectFrom('login_attempt')
      .select('attempts')
      .where('counter_key', '=', counterKey)
      .where('window_start', '=', windowStart)
      .executeTakeFirstOrThrow();
    return Number(row.attempts);
  });
}
