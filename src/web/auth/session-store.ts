import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/tables.js';

/**
 * Server-side records of signed-in sessions (table `session`). The signed cookie alone cannot be
 * taken back, so a signed-in cookie also names a row here: signing out deletes the row, and the
 * users service deletes all of a user's rows when their password or roles change.
 */
export class SessionStore {
  private lastPrune = 0;

  constructor(private readonly db: Kysely<Database>) {}

  /** A new session row for `userId`; the returned id goes into the cookie. */
  async open(userId: number, expiry: number, now = Date.now()): Promise<string> {
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      await this.db.deleteFrom('session').where('expiry', '<=', now).execute();
    }
    const sessionId = randomBytes(24).toString('base64url');
    await this.db.insertInto('session').values({ session_id: sessionId, user_id: userId, expiry }).execute();
    return sessionId;
  }

  /** Whether the session still stands: not signed out, not revoked, not expired. */
  async isLive(sessionId: string, userId: number, now = Date.now()): Promise<boolean> {
    const row = await this.db
      .selectFrom('session')
      .select(['user_id', 'expiry'])
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return row !== undefined && Number(row.user_id) === userId && Number(row.expiry) > now;
  }

  async close(sessionId: string): Promise<void> {
    await this.db.deleteFrom('session').where('session_id', '=', sessionId).execute();
  }
}
