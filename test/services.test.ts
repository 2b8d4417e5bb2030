import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, ConflictError, NotFoundError, ValidationError } from '../src/errors.js';
import { generateFernetKey } from '../src/config/index.js';
import { createFernet } from '../src/security/fernet.js';
import {
  addRole,
  authenticate,
  createUser,
  deleteUser,
  getUserWithRoles,
  listRoles,
  listUsers,
  removeRole,
} from '../src/users/index.js';
import { deleteVariable, getVariable, listVariables, setVariable } from '../src/variables/index.js';
import {
  addConnection,
  connectionToUri,
  deleteConnection,
  getConnection,
  listConnections,
  parseConnectionUri,
} from '../src/connections/index.js';
import { deletePool, getPool, listPools, setPool } from '../src/pools/index.js';
import { rotateFernetKey } from '../src/security/rotate-fernet-key.js';
import { openTestDb, TEST_DIALECTS, type OpenTestDb } from './support/databases.js';

const suiteKey = generateFernetKey();
const fernet = createFernet(suiteKey);

describe.each(TEST_DIALECTS)('metadata services on %s', (dialect) => {
  let t: OpenTestDb;
  beforeAll(async () => {
    t = await openTestDb(dialect);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  const ada = {
    username: 'ada',
    email: 'ada@example.com',
    firstName: 'Ada',
    lastName: 'Lovelace',
    password: 'S3cure!pass',
    roles: ['Admin'],
  };

  describe('users and roles', () => {
    it('lists the five built-in roles in hierarchy order', async () => {
      expect(await listRoles(t.db)).toEqual(['Public', 'Viewer', 'User', 'Op', 'Admin']);
    });

    it('creates a user whose password is stored only as a hash', async () => {
      const user = await createUser(t.db, ada);
      expect(user).toMatchObject({
        username: 'ada',
        email: 'ada@example.com',
        roles: ['Admin'],
        active: true,
      });
      const row = await t.db.kysely
        .selectFrom('ab_user')
        .select('password')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(row.password).not.toContain('S3cure!pass');
      expect(row.password).toMatch(/^scrypt\$/);
    });

    it('refuses a duplicate username or email, changing nothing', async () => {
      const before = await listUsers(t.db);
      await expect(createUser(t.db, { ...ada, email: 'other@example.com' })).rejects.toThrow(ConflictError);
      await expect(createUser(t.db, { ...ada, username: 'other' })).rejects.toThrow(
        /email 'ada@example.com' already exists/,
      );
      expect(await listUsers(t.db)).toEqual(before);
    });

    it('refuses an unknown role and bad input, changing nothing', async () => {
      const before = await listUsers(t.db);
      await expect(
        createUser(t.db, { ...ada, username: 'bob', email: 'b@x.io', roles: ['Wizard'] }),
      ).rejects.toThrow(NotFoundError);
      await expect(createUser(t.db, { ...ada, username: 'bob', email: 'not-an-email' })).rejects.toThrow(
        ValidationError,
      );
      await expect(
        createUser(t.db, { ...ada, username: 'bob', email: 'b@x.io', password: '' }),
      ).rejects.toThrow(ValidationError);
      await expect(createUser(t.db, { ...ada, username: 'bob', email: 'b@x.io', roles: [] })).rejects.toThrow(
        ValidationError,
      );
      expect(await listUsers(t.db)).toEqual(before);
    });

    it('authenticates with the right password and records the login', async () => {
      const user = await authenticate(t.db, 'ada', 'S3cure!pass');
      expect(user.roles).toEqual(['Admin']);
      expect(user.loginCount).toBe(1);
      const stored = await getUserWithRoles(t.db, { username: 'ada' });
      expect(stored.loginCount).toBe(1);
      expect(stored.lastLogin).toBeGreaterThan(Date.now() - 60_000);
    });

    it('rejects a wrong password or unknown user with AuthenticationError and counts failures', async () => {
      await expect(authenticate(t.db, 'ada', 'wrong')).rejects.toThrow(AuthenticationError);
      await expect(authenticate(t.db, 'nobody', 'S3cure!pass')).rejects.toThrow(AuthenticationError);
      // Usernames are exact, also on MySQL whose default collation ignores case.
      await expect(authenticate(t.db, 'ADA', 'S3cure!pass')).rejects.toThrow(AuthenticationError);
      expect((await getUserWithRoles(t.db, { username: 'ada' })).failLoginCount).toBe(1);
      await expect(getUserWithRoles(t.db, { username: 'Ada' })).rejects.toThrow(NotFoundError);
      await authenticate(t.db, 'ada', 'S3cure!pass');
      const after = await getUserWithRoles(t.db, { username: 'ada' });
      expect(after.failLoginCount).toBe(0);
      expect(after.loginCount).toBe(2);
    });

    it('adds and removes roles', async () => {
      expect((await addRole(t.db, { username: 'ada' }, 'Viewer')).roles).toEqual(['Admin', 'Viewer']);
      await expect(addRole(t.db, { username: 'ada' }, 'Viewer')).rejects.toThrow(ConflictError);
      await expect(addRole(t.db, { username: 'ada' }, 'Wizard')).rejects.toThrow(NotFoundError);
      expect((await removeRole(t.db, { username: 'ada' }, 'Viewer')).roles).toEqual(['Admin']);
      await expect(removeRole(t.db, { username: 'ada' }, 'Viewer')).rejects.toThrow(NotFoundError);
      expect((await getUserWithRoles(t.db, { username: 'ada' })).roles).toEqual(['Admin']);
    });

    it('deletes a user by email with its role links', async () => {
      const bob = await createUser(t.db, {
        ...ada,
        username: 'bob',
        email: 'bob@example.com',
        roles: ['Op', 'User'],
      });
      expect(bob.roles).toEqual(['Op', 'User']);
      await deleteUser(t.db, { email: 'bob@example.com' });
      await expect(getUserWithRoles(t.db, { username: 'bob' })).rejects.toThrow(NotFoundError);
      const links = await t.db.kysely
        .selectFrom('ab_user_role')
        .selectAll()
        .where('user_id', '=', bob.id)
        .execute();
      expect(links).toEqual([]);
      await expect(deleteUser(t.db, { username: 'bob' })).rejects.toThrow(NotFoundError);
    });
  });

  describe('variables', () => {
    it('stores values encrypted and reads them back', async () => {
      await setVariable(t.db, fernet, 'greeting', 'hello world', 'a greeting');
      const row = await t.db.kysely
        .selectFrom('variable')
        .selectAll()
        .where('key', '=', 'greeting')
        .executeTakeFirstOrThrow();
      expect(row.is_encrypted).toBe(1);
      expect(row.val).not.toContain('hello');
      expect(await getVariable(t.db, fernet, 'greeting', {})).toBe('hello world');
    });

    it('overwrites on set, keeps the description, and lists', async () => {
      await setVariable(t.db, fernet, 'greeting', 'bonjour');
      expect(await listVariables(t.db, fernet)).toEqual([
        { key: 'greeting', value: 'bonjour', description: 'a greeting', isEncrypted: true },
      ]);
    });

    it('prefers AIRFLOW_VAR_<KEY> from the environment', async () => {
      expect(await getVariable(t.db, fernet, 'greeting', { AIRFLOW_VAR_GREETING: 'from env' })).toBe(
        'from env',
      );
      expect(await getVariable(t.db, fernet, 'missing', {})).toBeUndefined();
    });

    it('stores plain text without a fernet key and fails clearly with the wrong key', async () => {
      await setVariable(t.db, createFernet(''), 'plain', 'visible');
      const row = await t.db.kysely
        .selectFrom('variable')
        .selectAll()
        .where('key', '=', 'plain')
        .executeTakeFirstOrThrow();
      expect([row.val, row.is_encrypted]).toEqual(['visible', 0]);
      await expect(getVariable(t.db, createFernet(generateFernetKey()), 'greeting', {})).rejects.toThrow(
        /fernet_key/,
      );
    });

    it('takes keys up to the column width (190) on every database, and refuses longer ones clearly', async () => {
      const longest = 'k'.repeat(190);
      await setVariable(t.db, fernet, longest, 'fits');
      expect(await getVariable(t.db, fernet, longest)).toBe('fits');
      await deleteVariable(t.db, longest);
      await expect(setVariable(t.db, fernet, 'k'.repeat(191), 'x')).rejects.toThrow(/1 to 190 letters/);
      await expect(setPool(t.db, 'p'.repeat(191), 1)).rejects.toThrow(ValidationError);
      await expect(
        createUser(t.db, { ...ada, username: 'u'.repeat(191), email: 'long@x.io' }),
      ).rejects.toThrow(/1 to 190 letters/);
      await expect(
        createUser(t.db, { ...ada, username: 'longmail', email: `${'m'.repeat(186)}@x.io` }),
      ).rejects.toThrow(ValidationError);
      expect((await listVariables(t.db, fernet)).map((v) => v.key)).not.toContain('k'.repeat(191));
      expect((await listPools(t.db)).map((p) => p.name)).not.toContain('p'.repeat(191));
    });

    it('rejects bad keys and deleting what does not exist, changing nothing', async () => {
      await expect(setVariable(t.db, fernet, 'bad key!', 'x')).rejects.toThrow(ValidationError);
      await expect(deleteVariable(t.db, 'missing')).rejects.toThrow(NotFoundError);
      await deleteVariable(t.db, 'plain');
      expect((await listVariables(t.db, fernet)).map((v) => v.key)).toEqual(['greeting']);
    });
  });

  describe('connections', () => {
    it('adds from a URI with password and extra encrypted', async () => {
      const fields = parseConnectionUri(
        'warehouse',
        'postgresql://etl:p%40ss@db.internal:5432/analytics?sslmode=require',
      );
      const conn = await addConnection(t.db, fernet, fields);
      expect(conn).toMatchObject({
        connId: 'warehouse',
        connType: 'postgres',
        host: 'db.internal',
        login: 'etl',
        password: 'p@ss',
        port: 5432,
        schema: 'analytics',
        extra: '{"sslmode":"require"}',
        isEncrypted: true,
        isExtraEncrypted: true,
      });
      const row = await t.db.kysely
        .selectFrom('connection')
        .selectAll()
        .where('conn_id', '=', 'warehouse')
        .executeTakeFirstOrThrow();
      expect(row.password).not.toContain('p@ss');
      expect(row.extra).not.toContain('sslmode');
      expect(connectionToUri(conn)).toBe('postgres://etl:p%40ss@db.internal:5432/analytics?sslmode=require');
    });

    it('refuses a duplicate conn_id or bad extra, changing nothing', async () => {
      await expect(addConnection(t.db, fernet, { connId: 'warehouse', connType: 'http' })).rejects.toThrow(
        ConflictError,
      );
      await expect(
        addConnection(t.db, fernet, { connId: 'api', connType: 'http', extra: '{not json' }),
      ).rejects.toThrow(ValidationError);
      await expect(
        addConnection(t.db, fernet, { connId: 'api', connType: 'http', port: 70000 }),
      ).rejects.toThrow(ValidationError);
      expect((await listConnections(t.db, fernet)).map((c) => c.connId)).toEqual(['warehouse']);
    });

    it('prefers AIRFLOW_CONN_<ID> (URI or JSON) from the environment', async () => {
      const env = { AIRFLOW_CONN_WAREHOUSE: 'mysql://u:pw@other:3306/x' };
      expect(await getConnection(t.db, fernet, 'warehouse', env)).toMatchObject({
        connType: 'mysql',
        host: 'other',
        source: 'env',
      });
      const json = {
        AIRFLOW_CONN_API: '{"conn_type":"http","host":"api.example.com","extra":{"timeout":5}}',
      };
      expect(await getConnection(t.db, fernet, 'api', json)).toMatchObject({
        host: 'api.example.com',
        extra: '{"timeout":5}',
      });
    });

    it('deletes', async () => {
      await deleteConnection(t.db, 'warehouse');
      expect(await getConnection(t.db, fernet, 'warehouse', {})).toBeUndefined();
      await expect(deleteConnection(t.db, 'warehouse')).rejects.toThrow(NotFoundError);
    });
  });

  describe('pools', () => {
    it('sets, updates, lists and deletes a pool', async () => {
      expect(await setPool(t.db, 'etl', 4, 'nightly loads')).toEqual({
        name: 'etl',
        slots: 4,
        description: 'nightly loads',
        includeDeferred: false,
      });
      expect((await setPool(t.db, 'etl', '8', 'more')).slots).toBe(8);
      expect((await listPools(t.db)).map((p) => [p.name, p.slots])).toEqual([
        ['default_pool', 128],
        ['etl', 8],
      ]);
      await deletePool(t.db, 'etl');
      await expect(getPool(t.db, 'etl')).rejects.toThrow(NotFoundError);
    });

    it('refuses bad slots and deleting default_pool, changing nothing', async () => {
      await expect(setPool(t.db, 'etl', 'many')).rejects.toThrow(ValidationError);
      await expect(setPool(t.db, 'etl', -5)).rejects.toThrow(ValidationError);
      await expect(deletePool(t.db, 'default_pool')).rejects.toThrow(ConflictError);
      expect((await listPools(t.db)).map((p) => p.name)).toEqual(['default_pool']);
    });
  });
  describe('rotate-fernet-key', () => {
    it('re-encrypts variables and connection secrets with the new key, all or nothing', async () => {
      const oldKey = generateFernetKey();
      const newKey = generateFernetKey();
      const old = createFernet(oldKey);
      await setVariable(t.db, old, 'rot_var', 'v1');
      await addConnection(t.db, old, {
        connId: 'rot_conn',
        connType: 'http',
        password: 'pw',
        extra: '{"a":"b"}',
      });
      // Earlier tests stored values under the suite's key; the key list must cover every stored value.
      const result = await rotateFernetKey(t.db, createFernet(`${newKey},${oldKey},${suiteKey}`));
      expect(result.variables).toBeGreaterThanOrEqual(1);
      expect(result.connections).toBeGreaterThanOrEqual(1);
      const onlyNew = createFernet(newKey);
      expect(await getVariable(t.db, onlyNew, 'rot_var', {})).toBe('v1');
      expect(await getConnection(t.db, onlyNew, 'rot_conn', {})).toMatchObject({
        password: 'pw',
        extra: '{"a":"b"}',
      });
      // A key that decrypts nothing: the rotation fails and leaves every value as it was.
      await expect(rotateFernetKey(t.db, createFernet(generateFernetKey()))).rejects.toThrow(
        /fernet_key does not match/,
      );
      expect(await getVariable(t.db, onlyNew, 'rot_var', {})).toBe('v1');
      await deleteVariable(t.db, 'rot_var');
      await deleteConnection(t.db, 'rot_conn');
    });
  });
});
