import { createHash } from 'node:crypto';
import type { MetadataDb } from '../../db/index.js';
import { incrementLoginAttempts } from '../../db/login-attempts.js';

const WINDOW_MS = 60_000;
/**
 * One address may try this many times the per-user limit across all usernames (password spraying)
 * before every sign-in from it is refused.
 */
export const ADDRESS_LIMIT_FACTOR = 10;

/** A counted sign-in attempt; given back with `succeeded` when the password was right. */
export interface SignInTicket {
  keys: string[];
  windowStart: number;
}

/**
 * Sign-in attempts per minute, counted in the metadata database so every webserver process shares
 * the count. An attempt takes a ticket before its password is checked: the counter is incremented
 * atomically (an upsert, read back in the same transaction) and the attempt goes ahead only if its
 * place in the count is within the limit, so N parallel guesses check at most `limit` passwords. Two counters: the username at the
 * address (limit per minute), and the address across all usernames (ADDRESS_LIMIT_FACTOR times
 * the limit). A right password gives its ticket back, so only failures use up the limit, and
 * guesses at one user do not lock another user out from the same address.
 */
export class SignInLimiter {
  private lastPrune = 0;

  constructor(
    private readonly store: MetadataDb,
    private readonly limitPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A ticket to check the password, or null when the limit is reached. */
  async take(username: string, address: string): Promise<SignInTicket | null> {
    const now = this.now();
    const windowStart = now - (now % WINDOW_MS);
    await this.prune(windowStart);
    const userKey = counterKey(`user\0${username.toLowerCase()}\0${address}`);
    const addressKey = counterKey(`address\0${address}`);
    const ticket = { keys: [userKey, addressKey], windowStart };
    const [userCount, addressCount] = [
      await this.increment(userKey, windowStart),
      await this.increment(addressKey, windowStart),
    ];
    if (userCount > this.limitPerMinute || addressCount > this.limitPerMinute * ADDRESS_LIMIT_FACTOR)
      return null;
    return ticket;
  }

  /** The password was right: the attempt does not count against the limit. */
  async succeeded(ticket: SignInTicket): Promise<void> {
    await this.store.kysely
      .updateTable('login_attempt')
      .set((eb) => ({ attempts: eb('attempts', '-', 1) }))
      .where('counter_key', 'in', ticket.keys)
      .where('window_start', '=', ticket.windowStart)
      .where('attempts', '>', 0)
      .execute();
  }

  private increment(key: string, windowStart: number): Promise<number> {
    return incrementLoginAttempts(this.store, key, windowStart);
  }

  private async prune(windowStart: number): Promise<void> {
    if (windowStart - this.lastPrune < WINDOW_MS) return;
    this.lastPrune = windowStart;
    await this.store.kysely
      .deleteFrom('login_attempt')
      .where('window_start', '<', windowStart - WINDOW_MS)
      .execute();
  }
}

/** Keys are hashed: fixed length, and no usernames or addresses stored in clear. */
function counterKey(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
