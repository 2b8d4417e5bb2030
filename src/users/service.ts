import type { Kysely, Selectable, Transaction } from 'kysely';
import { AuthenticationError, ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { isUniqueViolation, type MetadataDb } from '../db/index.js';
import type { Database, UserTable } from '../db/tables.js';
import { hashPassword, verifyPassword } from '../security/password.js';
import { ROLE_NAMES } from './roles.js';
import { validateEmail, validateName, validatePassword, validateUsername } from './validate.js';

/**
 * Users and their roles in the metadata DB (tables ab_user, ab_role, ab_user_role, as in Airflow's
 * Flask-AppBuilder schema). Every change runs in one transaction: a failed call changes nothing.
 * Passwords only ever reach the DB as scrypt hashes.
 */
export interface UserInfo {
  id: number;
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  active: boolean;
  roles: string[];
  createdOn: number;
  lastLogin: number | null;
  loginCount: number;
  failLoginCount: number;
}

export interface NewUser {
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  password: string;
  /** At least one role name (Admin, Op, User, Viewer, Public). */
  roles: string[];
}

/** Which user: by id, username or email. */
export type UserRef = { id: number } | { username: string } | { email: string };

type Db = Kysely<Database> | Transaction<Database>;

function describeRef(ref: UserRef): string {
  if ('id' in ref) return `id ${ref.id}`;
  if ('username' in ref) return `username '${ref.username}'`;
  return `email '${ref.email}'`;
}

async function findUserRow(db: Db, ref: UserRef) {
  let q = db.selectFrom('ab_user').selectAll();
  if ('id' in ref) q = q.where('id', '=', ref.id);
  else if ('username' in ref) q = q.where('username', '=', ref.username);
  else q = q.where('email', '=', ref.email);
  const row = await q.executeTakeFirst();
  // MySQL's utf8mb4_unicode_ci compares case-insensitively; usernames are exact everywhere.
  if (row && 'username' in ref && row.username !== ref.username) return undefined;
  return row;
}

async function rolesOf(db: Db, userIds: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(userIds.map((id) => [id, []]));
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('ab_user_role')
    .innerJoin('ab_role', 'ab_role.id', 'ab_user_role.role_id')
    .select(['ab_user_role.user_id as userId', 'ab_role.name as name'])
    .where('ab_user_role.user_id', 'in', userIds)
    .orderBy('ab_role.name')
    .execute();
  for (const r of rows) out.get(r.userId)?.push(r.name);
  return out;
}

function toInfo(row: Selectable<UserTable>, roles: string[]): UserInfo {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    active: Number(row.active) === 1,
    roles,
    createdOn: Number(row.created_on),
    lastLogin: row.last_login === null ? null : Number(row.last_login),
    loginCount: Number(row.login_count),
    failLoginCount: Number(row.fail_login_count),
  };
}

/** Role ids for names, or NotFoundError naming the unknown role and the known ones. */
async function roleIds(db: Db, names: string[]): Promise<Map<string, number>> {
  const rows = await db.selectFrom('ab_role').select(['id', 'name']).execute();
  const byName = new Map(rows.map((r) => [r.name, r.id]));
  for (const name of names) {
    if (!byName.has(name)) {
      throw new NotFoundError(`Role '${name}' does not exist. Roles: ${rows.map((r) => r.name).join(', ')}.`);
    }
  }
  return byName;
}

export async function listRoles(store: MetadataDb): Promise<string[]> {
  const rows = await store.kysely.selectFrom('ab_role').select('name').execute();
  const known = ROLE_NAMES as readonly string[];
  // Built-in roles in hierarchy order first, then any others alphabetically.
  return rows
    .map((r) => r.name)
    .sort((a, b) => {
      const [ia, ib] = [known.indexOf(a), known.indexOf(b)];
      if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
      return a.localeCompare(b);
    });
}

export async function createUser(store: MetadataDb, input: NewUser): Promise<UserInfo> {
  const username = validateUsername(input.username);
  const email = validateEmail(input.email);
  const firstName = validateName('first name', input.firstName);
  const lastName = validateName('last name', input.lastName);
  const password = validatePassword(input.password);
  const roles = [...new Set(input.roles)];
  if (roles.length === 0)
    throw new ValidationError('A user needs at least one role (-r Admin|Op|User|Viewer|Public).');
  // Hash outside the transaction: scrypt is slow on purpose and must not hold locks.
  const hash = await hashPassword(password);
  const now = Date.now();
  try {
    return await store.kysely.transaction().execute(async (trx) => {
      const ids = await roleIds(trx, roles);
      if (await findUserRow(trx, { username }))
        throw new ConflictError(`A user with username '${username}' already exists.`);
      if (await findUserRow(trx, { email }))
        throw new ConflictError(`A user with email '${email}' already exists.`);
      await trx
        .insertInto('ab_user')
        .values({
          username,
          email,
          first_name: firstName,
          last_name: lastName,
          password: hash,
          active: 1,
          created_on: now,
          changed_on: now,
          login_count: 0,
          fail_login_count: 0,
        })
        .execute();
      const row = await findUserRow(trx, { username });
      if (!row) throw new Error(`User '${username}' vanished right after it was inserted.`);
      await trx
        .insertInto('ab_user_role')
        .values(roles.map((r) => ({ user_id: row.id, role_id: ids.get(r)! })))
        .execute();
      return toInfo(row, [...roles].sort());
    });
  } catch (error) {
    // Another process created the same user between our check and our insert.
    if (isUniqueViolation(error)) {
      throw new ConflictError(`A user with username '${username}' or email '${email}' already exists.`, {
        cause: error,
      });
    }
    throw error;
  }
}

export async function listUsers(store: MetadataDb): Promise<UserInfo[]> {
  const rows = await store.kysely.selectFrom('ab_user').selectAll().orderBy('id').execute();
  const roles = await rolesOf(
    store.kysely,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toInfo(r, roles.get(r.id) ?? []));
}

/** The user with roles, or undefined. */
export async function findUser(store: MetadataDb, ref: UserRef): Promise<UserInfo | undefined> {
  const row = await findUserRow(store.kysely, ref);
  if (!row) return undefined;
  return toInfo(row, (await rolesOf(store.kysely, [row.id])).get(row.id) ?? []);
}

/** The user with roles, or NotFoundError. */
export async function getUserWithRoles(store: MetadataDb, ref: UserRef): Promise<UserInfo> {
  const user = await findUser(store, ref);
  if (!user) throw new NotFoundError(`No user with ${describeRef(ref)}.`);
  return user;
}

export async function deleteUser(store: MetadataDb, ref: UserRef): Promise<UserInfo> {
  return store.kysely.transaction().execute(async (trx) => {
    const row = await findUserRow(trx, ref);
    if (!row) throw new NotFoundError(`No user with ${describeRef(ref)}.`);
    const roles = (await rolesOf(trx, [row.id])).get(row.id) ?? [];
    // Explicit, rather than relying on ON DELETE CASCADE (SQLite needs foreign_keys=ON for that).
    await trx.deleteFrom('ab_user_role').where('user_id', '=', row.id).execute();
    await endSessions(trx, row.id);
    await trx.deleteFrom('ab_user').where('id', '=', row.id).execute();
    return toInfo(row, roles);
  });
}

export async function addRole(store: MetadataDb, ref: UserRef, role: string): Promise<UserInfo> {
  return store.kysely.transaction().execute(async (trx) => {
    const row = await findUserRow(trx, ref);
    if (!row) throw new NotFoundError(`No user with ${describeRef(ref)}.`);
    const roleId = (await roleIds(trx, [role])).get(role)!;
    const current = (await rolesOf(trx, [row.id])).get(row.id) ?? [];
    if (current.includes(role))
      throw new ConflictError(`User '${row.username}' already has the role '${role}'.`);
    await trx.insertInto('ab_user_role').values({ user_id: row.id, role_id: roleId }).execute();
    await trx.updateTable('ab_user').set({ changed_on: Date.now() }).where('id', '=', row.id).execute();
    await endSessions(trx, row.id);
    return toInfo(row, [...current, role].sort());
  });
}

export async function removeRole(store: MetadataDb, ref: UserRef, role: string): Promise<UserInfo> {
  return store.kysely.transaction().execute(async (trx) => {
    const row = await findUserRow(trx, ref);
    if (!row) throw new NotFoundError(`No user with ${describeRef(ref)}.`);
    const roleId = (await roleIds(trx, [role])).get(role)!;
    const current = (await rolesOf(trx, [row.id])).get(row.id) ?? [];
    if (!current.includes(role))
      throw new NotFoundError(`User '${row.username}' does not have the role '${role}'.`);
    await trx
      .deleteFrom('ab_user_role')
      .where('user_id', '=', row.id)
      .where('role_id', '=', roleId)
      .execute();
    await trx.updateTable('ab_user').set({ changed_on: Date.now() }).where('id', '=', row.id).execute();
    await endSessions(trx, row.id);
    return toInfo(
      row,
      current.filter((r) => r !== role),
    );
  });
}

/** Replace a user's password (e.g. `standalone` regenerating the admin password). */
export async function setPassword(store: MetadataDb, ref: UserRef, password: string): Promise<void> {
  const hash = await hashPassword(validatePassword(password));
  await store.kysely.transaction().execute(async (trx) => {
    const row = await findUserRow(trx, ref);
    if (!row) throw new NotFoundError(`No user with ${describeRef(ref)}.`);
    await trx
      .updateTable('ab_user')
      .set({ password: hash, changed_on: Date.now() })
      .where('id', '=', row.id)
      .execute();
    await endSessions(trx, row.id);
  });
}

/**
 * Sign the user out everywhere: their browser sessions stop working on the next request. Called
 * whenever what a session was granted on changes (password, roles, the user itself).
 */
async function endSessions(db: Db, userId: number): Promise<void> {
  await db.deleteFrom('session').where('user_id', '=', userId).execute();
}

// A hash of a random string: verifying against it when the user does not exist keeps the time an
// unknown username takes the same as a wrong password, so timing does not reveal which usernames exist.
let decoyHash: Promise<string> | undefined;

/**
 * Check a username and password. Success returns the user (roles included) and records the login;
 * any failure throws the same AuthenticationError, counting failed attempts on a known user.
 */
export async function authenticate(store: MetadataDb, username: string, password: string): Promise<UserInfo> {
  const failure = () => new AuthenticationError('Invalid username or password.');
  const row = await findUserRow(store.kysely, { username });
  if (!row) {
    decoyHash ??= hashPassword(Math.random().toString(36));
    await verifyPassword(password, await decoyHash);
    throw failure();
  }
  const ok = await verifyPassword(password, row.password);
  if (!ok || Number(row.active) !== 1) {
    await store.kysely
      .updateTable('ab_user')
      .set((eb) => ({ fail_login_count: eb('fail_login_count', '+', 1) }))
      .where('id', '=', row.id)
      .execute();
    throw failure();
  }
  const now = Date.now();
  await store.kysely
    .updateTable('ab_user')
    .set((eb) => ({ login_count: eb('login_count', '+', 1), fail_login_count: 0, last_login: now }))
    .where('id', '=', row.id)
    .execute();
  const roles = (await rolesOf(store.kysely, [row.id])).get(row.id) ?? [];
  return {
    ...toInfo(row, roles),
    lastLogin: now,
    loginCount: Number(row.login_count) + 1,
    failLoginCount: 0,
  };
}
