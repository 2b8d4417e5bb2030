import { createHash } from 'node:crypto';
import type { MetadataDb } from '../../db/index.js';
import { AuthenticationError } from '../../errors.js';
import { authenticate, findUser } from '../../users/index.js';
import { effectiveRole, type RoleName } from './roles.js';

/** Who is making a request. */
export interface Principal {
  userId: number;
  username: string;
  role: RoleName;
}

export const ANONYMOUS = { userId: 0, username: 'anonymous', role: 'Public' } as const satisfies Principal;

/** An active user with their strongest role, or null (unknown or deactivated user). */
export async function loadPrincipal(store: MetadataDb, userId: number): Promise<Principal | null> {
  const user = await findUser(store, { id: userId });
  if (!user || !user.active) return null;
  return { userId: user.id, username: user.username, role: effectiveRole(user.roles) };
}

/**
 * Check a username and password with the users service (which records the attempt on the user
 * row as Airflow does). Null when they do not match an active user.
 */
export async function signIn(
  store: MetadataDb,
  username: string,
  password: string,
): Promise<Principal | null> {
  try {
    const user = await authenticate(store, username, password);
    return { userId: user.id, username: user.username, role: effectiveRole(user.roles) };
  } catch (error) {
    if (error instanceof AuthenticationError) return null;
    throw error;
  }
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

/**
 * Signed-in users looked up in the last few seconds. Every page and API call needs the user's
 * role; a short cache spares two queries per request, and a deactivated user or changed role
 * still takes effect within `ttlMs`.
 */
export class PrincipalCache {
  private readonly entries = new Map<number, { principal: Principal | null; until: number }>();

  constructor(private readonly ttlMs = 5_000) {}

  async load(store: MetadataDb, userId: number): Promise<Principal | null> {
    const hit = this.entries.get(userId);
    if (hit && hit.until > Date.now()) return hit.principal;
    const principal = await loadPrincipal(store, userId);
    if (this.entries.size > 10_000) this.entries.clear();
    this.entries.set(userId, { principal, until: Date.now() + this.ttlMs });
    return principal;
  }
}
