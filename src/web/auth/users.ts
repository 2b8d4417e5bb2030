import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/tables.js';
import { verifyPassword } from '../../security/password.js';
import { effectiveRole, type RoleName } from './roles.js';

/** Who is making a request. */
export interface Principal {
  userId: number;
  username: string;
  role: RoleName;
}

export const ANONYMOUS = { userId: 0, username: 'anonymous', role: 'Public' } as const satisfies Principal;

/** An active user with their strongest role, or null (unknown or deactivated user). */
export async function loadPrincipal(db: Kysely<Database>, userId: number): Promise<Principal | null> {
  const rows = await db
    .selectFrom('ab_user as u')
    .leftJoin('ab_user_role as ur', 'ur.user_id', 'u.id')
    .leftJoin('ab_role as r', 'r.id', 'ur.role_id')
    .select(['u.id', 'u.username', 'u.active', 'r.name as role'])
    .where('u.id', '=', userId)
    .execute();
  const first = rows[0];
  if (!first || !first.active) return null;
  return { userId: first.id, username: first.username, role: effectiveRole(rows.map((r) => r.role ?? '')) };
}

/**
 * Check a username and password, recording the attempt on the user row like Airflow does
 * (login_count, fail_login_count, last_login). Null when they do not match an active user.
 */
export async function signIn(db: Kysely<Database>, username: string, password: string): Promise<Principal | null> {
  const user = await db
    .selectFrom('ab_user')
    .select(['id', 'password', 'active'])
    .where('username', '=', username)
    .executeTakeFirst();
  if (!user || !user.active) return null;
  if (!(await verifyPassword(password, user.password))) {
    await db
      .updateTable('ab_user')
      .set((eb) => ({ fail_login_count: eb('fail_login_count', '+', 1) }))
      .where('id', '=', user.id)
      .execute();
    return null;
  }
  await db
    .updateTable('ab_user')
    .set((eb) => ({ last_login: Date.now(), login_count: eb('login_count', '+', 1), fail_login_count: 0 }))
    .where('id', '=', user.id)
    .execute();
  return loadPrincipal(db, user.id);
}

/**
 * Basic-auth credentials checked recently. scrypt is deliberately slow (tens of milliseconds), so
 * an API client sending the same header on every request would otherwise be throttled by it. The
 * key is a hash of the credentials, never the password; entries live for a minute.
 */
export class CredentialCache {
  private readonly entries = new Map<string, { userId: number; until: number }>();

  constructor(private readonly ttlMs = 60_000) {}

  private key(username: string, password: string): string {
    return createHash('sha256').update(`${username}\0${password}`).digest('base64');
  }

  get(username: string, password: string): number | undefined {
    const entry = this.entries.get(this.key(username, password));
    if (!entry || entry.until < Date.now()) return undefined;
    return entry.userId;
  }

  set(username: string, password: string, userId: number): void {
    if (this.entries.size > 1000) this.entries.clear();
    this.entries.set(this.key(username, password), { userId, until: Date.now() + this.ttlMs });
  }
}
