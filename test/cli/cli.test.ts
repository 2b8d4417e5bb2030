import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFernetKey } from '../../src/config/index.js';
import { makeAirflowHome, runUpdraft, type AirflowHome } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

/** These run the built binary (`npm test` builds first; alone, run `npm run build` before). */

describe('updraft CLI on the default SQLite database', () => {
  let h: AirflowHome;
  const run = (args: string[], env: Record<string, string> = {}) =>
    runUpdraft(args, { env: { ...h.env, ...env } });

  beforeAll(async () => {
    h = await makeAirflowHome();
  });
  afterAll(async () => {
    await h.cleanup();
  });

  it('refuses data commands before the database is initialized', async () => {
    const r = await run(['users', 'list']);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/updraft db migrate/);
  });

  it('db init creates airflow.cfg and the SQLite file, both 0600', async () => {
    const r = await run(['db', 'init']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Applied migrations: 0001_initial/);
    expect((await stat(join(h.home, 'airflow.cfg'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(h.home, 'airflow.db'))).mode & 0o777).toBe(0o600);
  });

  it('db check and db migrate are idempotent', async () => {
    const check = await run(['db', 'check']);
    expect([check.code, check.stdout]).toEqual([0, expect.stringMatching(/Connection successful: SQLite/)]);
    const again = await run(['db', 'migrate']);
    expect([again.code, again.stdout]).toEqual([0, expect.stringMatching(/already up to date/)]);
    expect((await run(['db', 'check-migrations'])).code).toBe(0);
  });

  it('config get-value reads the file, and the environment overrides it', async () => {
    expect((await run(['config', 'get-value', 'core', 'executor'])).stdout.trim()).toBe('SequentialExecutor');
    const env = await run(['config', 'get-value', 'core', 'executor'], {
      AIRFLOW__CORE__EXECUTOR: 'LocalExecutor',
    });
    expect(env.stdout.trim()).toBe('LocalExecutor');
    const bad = await run(['config', 'get-value', 'core', 'executor'], {
      AIRFLOW__CORE__PARALLELISM: 'many',
    });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/\[core\] parallelism = "many" is not valid: expected a whole number/);
    expect((await run(['config', 'get-value', 'core', 'nope'])).code).toBe(3);
  });

  it('users create, list, duplicate and unknown role', async () => {
    const create = [
      'users',
      'create',
      '-r',
      'Admin',
      '-u',
      'admin',
      '-p',
      'S3cure!pass',
      '-e',
      'a@example.com',
    ];
    const ok = await run([...create, '-f', 'Ada', '-l', 'Admin']);
    expect([ok.code, ok.stdout.trim()]).toEqual([0, 'User "admin" created with role "Admin"']);
    expect(ok.stdout + ok.stderr).not.toContain('S3cure!pass');

    // As in Airflow: an existing username is reported, exit 0 (start-up scripts under set -e).
    const dup = await run([...create, '-f', 'Ada', '-l', 'Admin']);
    expect([dup.code, dup.stdout.trim()]).toEqual([0, 'admin already exist in the db']);
    const sameEmail = await run([
      'users',
      'create',
      '-r',
      'User',
      '-u',
      'other',
      '-p',
      'S3cure!pass',
      '-e',
      'a@example.com',
      '-f',
      'O',
      '-l',
      'T',
    ]);
    expect(sameEmail.code).toBe(6);
    expect(sameEmail.stderr).toMatch(/email 'a@example.com' already exists/);

    const role = await run([
      'users',
      'create',
      '-r',
      'Wizard',
      '-u',
      'w',
      '-p',
      'x',
      '-e',
      'w@x.io',
      '-f',
      'W',
      '-l',
      'Z',
    ]);
    expect(role.code).toBe(5);
    expect(role.stderr).toMatch(/Role 'Wizard' does not exist/);

    const missing = await run(['users', 'create', '-u', 'w']);
    expect(missing.code).toBe(2);

    const random = await run([
      'users',
      'create',
      '-r',
      'Viewer',
      '-u',
      'viewer',
      '--use-random-password',
      '-e',
      'v@x.io',
      '-f',
      'V',
      '-l',
      'W',
    ]);
    expect(random.code).toBe(0);
    expect(random.stdout).toMatch(/Generated password \(shown only this once\): \S{20}/);

    const list = await run(['users', 'list', '-o', 'json']);
    expect(JSON.parse(list.stdout)).toEqual([
      {
        id: 1,
        username: 'admin',
        email: 'a@example.com',
        first_name: 'Ada',
        last_name: 'Admin',
        roles: ['Admin'],
      },
      { id: 2, username: 'viewer', email: 'v@x.io', first_name: 'V', last_name: 'W', roles: ['Viewer'] },
    ]);
  });

  it('users create asks for the password when -p is not given (here from a pipe)', async () => {
    const args = ['users', 'create', '-r', 'User', '-u', 'piped', '-e', 'p@x.io', '-f', 'P', '-l', 'Q'];
    const mismatch = await runUpdraft(args, { env: h.env, input: 'one\ntwo\n' });
    expect([mismatch.code, mismatch.stderr]).toEqual([4, expect.stringMatching(/Passwords did not match/)]);
    const empty = await runUpdraft(args, { env: h.env, input: '' });
    expect(empty.code).toBe(4);
    const ok = await runUpdraft(args, { env: h.env, input: 'pipe-pass\npipe-pass\n' });
    expect(ok.code).toBe(0);
    expect((await run(['users', 'delete', '-u', 'piped'])).code).toBe(0);
  });

  it('users add-role, remove-role and delete', async () => {
    expect((await run(['users', 'add-role', '-u', 'viewer', '-r', 'Op'])).code).toBe(0);
    const list = JSON.parse((await run(['users', 'list', '-o', 'json'])).stdout) as {
      username: string;
      roles: string[];
    }[];
    expect(list.find((u) => u.username === 'viewer')?.roles).toEqual(['Op', 'Viewer']);
    expect((await run(['users', 'remove-role', '-u', 'viewer', '-r', 'Op'])).code).toBe(0);
    expect((await run(['users', 'delete', '-e', 'v@x.io'])).code).toBe(0);
    expect((await run(['users', 'delete', '-u', 'viewer'])).code).toBe(5);
    expect((await run(['users', 'delete'])).code).toBe(2);
  });

  it('variables round trip, with JSON and the AIRFLOW_VAR_ override', async () => {
    expect(
      (await run(['variables', 'set', 'cfg', '{"a": [1, 2]}', '-j', '--description', 'settings'])).code,
    ).toBe(0);
    expect(JSON.parse((await run(['variables', 'get', 'cfg', '-j'])).stdout)).toEqual({ a: [1, 2] });
    expect((await run(['variables', 'get', 'cfg'], { AIRFLOW_VAR_CFG: 'env wins' })).stdout.trim()).toBe(
      'env wins',
    );
    expect((await run(['variables', 'get', 'missing', '-d', 'fallback'])).stdout.trim()).toBe('fallback');
    expect((await run(['variables', 'get', 'missing'])).code).toBe(5);
    expect((await run(['variables', 'set', 'bad', '{nope', '-j'])).code).toBe(4);
    const list = JSON.parse((await run(['variables', 'list', '-o', 'json'])).stdout);
    expect(list).toEqual([{ key: 'cfg', description: 'settings', is_encrypted: true }]);
    expect((await run(['variables', 'delete', 'cfg'])).code).toBe(0);
    expect((await run(['variables', 'delete', 'cfg'])).code).toBe(5);
  });

  it('connections round trip with the password masked', async () => {
    const add = await run([
      'connections',
      'add',
      'warehouse',
      '--conn-uri',
      'postgresql://etl:hunter2@db:5432/dw?sslmode=require',
    ]);
    expect(add.code).toBe(0);
    expect(add.stdout).not.toContain('hunter2');
    const fields = await run([
      'connections',
      'add',
      'api',
      '--conn-type',
      'http',
      '--conn-host',
      'api.example.com',
      '--conn-password',
      'tok3n',
      '--conn-port',
      '443',
      '--conn-extra',
      '{"timeout": 5}',
    ]);
    expect(fields.code).toBe(0);
    const list = await run(['connections', 'list', '-o', 'json']);
    expect(list.stdout).not.toMatch(/hunter2|tok3n/);
    const rows = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.conn_id, r.conn_type, r.host, r.port, r.password])).toEqual([
      ['api', 'http', 'api.example.com', 443, '***'],
      ['warehouse', 'postgres', 'db', 5432, '***'],
    ]);
    const env = await run(['connections', 'get', 'warehouse', '-o', 'json'], {
      AIRFLOW_CONN_WAREHOUSE: 'mysql://u:p@elsewhere/x',
    });
    expect(JSON.parse(env.stdout)[0]).toMatchObject({ conn_type: 'mysql', host: 'elsewhere', source: 'env' });
    expect((await run(['connections', 'add', 'warehouse', '--conn-type', 'http'])).code).toBe(6);
    expect((await run(['connections', 'add', 'x', '--conn-type', 'http', '--conn-extra', '[1]'])).code).toBe(
      4,
    );
    expect((await run(['connections', 'add', 'y'])).code).toBe(2);
    expect((await run(['connections', 'delete', 'api'])).code).toBe(0);
    expect((await run(['connections', 'get', 'api'])).code).toBe(5);
  });

  it('pools round trip; default_pool stays', async () => {
    expect((await run(['pools', 'set', 'etl', '4', 'nightly'])).code).toBe(0);
    const get = JSON.parse((await run(['pools', 'get', 'etl', '-o', 'json'])).stdout);
    expect(get).toEqual([{ pool: 'etl', slots: 4, description: 'nightly', include_deferred: false }]);
    expect((await run(['pools', 'set', 'etl', 'four', 'x'])).code).toBe(4);
    expect((await run(['pools', 'delete', 'default_pool'])).code).toBe(6);
    expect((await run(['pools', 'delete', 'etl'])).code).toBe(0);
    const list = JSON.parse((await run(['pools', 'list', '-o', 'json'])).stdout) as {
      pool: string;
      slots: number;
    }[];
    expect(list.map((p) => [p.pool, p.slots])).toEqual([['default_pool', 128]]);
    // --json is the scripting shorthand for -o json, on every listing command.
    expect(JSON.parse((await run(['pools', 'list', '--json'])).stdout)).toEqual(list);
  });

  it('db check retries, then fails with the database exit code when the server is unreachable', async () => {
    const started = Date.now();
    const r = await run(['db', 'check', '--retry', '1', '--retry-delay', '0.2'], {
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: 'postgresql://postgres@127.0.0.1:1/nothing',
    });
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/attempt 1 of 2/);
    expect(r.stderr).toMatch(/Cannot connect to the metadata database/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('rotate-fernet-key re-encrypts with the new first key', async () => {
    expect((await run(['variables', 'set', 'rot', 'secret-value'])).code).toBe(0);
    const oldKey = (await run(['config', 'get-value', 'core', 'fernet_key'])).stdout.trim();
    const newKey = generateFernetKey();
    const rotated = await run(['rotate-fernet-key'], { AIRFLOW__CORE__FERNET_KEY: `${newKey},${oldKey}` });
    expect([rotated.code, rotated.stdout]).toEqual([0, expect.stringMatching(/Re-encrypted 1 variable/)]);
    const read = await run(['variables', 'get', 'rot'], { AIRFLOW__CORE__FERNET_KEY: newKey });
    expect(read.stdout.trim()).toBe('secret-value');
    expect((await run(['variables', 'get', 'rot'])).code).toBe(4);
    // Rotating back to the file's key makes every stored secret readable with it again.
    expect(
      (await run(['rotate-fernet-key'], { AIRFLOW__CORE__FERNET_KEY: `${oldKey},${newKey}` })).code,
    ).toBe(0);
    expect((await run(['variables', 'get', 'rot'])).stdout.trim()).toBe('secret-value');
    expect((await run(['variables', 'delete', 'rot'])).code).toBe(0);
  });

  it('variables, pools and connections export and import round trip', async () => {
    const file = (name: string) => join(h.home, name);
    await writeFile(file('vars.json'), JSON.stringify({ plain: 'text', nested: { a: [1, 2] } }));
    expect((await run(['variables', 'import', file('vars.json')])).code).toBe(0);
    expect((await run(['variables', 'get', 'nested'])).stdout.trim()).toBe('{"a":[1,2]}');
    expect((await run(['variables', 'export', file('vars-out.json')])).code).toBe(0);
    expect(JSON.parse(await readFile(file('vars-out.json'), 'utf8'))).toMatchObject({
      plain: 'text',
      nested: { a: [1, 2] },
    });
    expect((await stat(file('vars-out.json'))).mode & 0o777).toBe(0o600);
    await writeFile(file('bad-vars.json'), JSON.stringify({ ok_key: 'x', 'bad key': 'y' }));
    expect((await run(['variables', 'import', file('bad-vars.json')])).code).toBe(4);
    expect((await run(['variables', 'get', 'ok_key'])).code).toBe(5);
    expect((await run(['variables', 'import', file('missing.json')])).code).toBe(5);

    await writeFile(file('pools.json'), JSON.stringify({ etl: { slots: 3, description: 'loads' } }));
    expect((await run(['pools', 'import', file('pools.json')])).code).toBe(0);
    expect((await run(['pools', 'export', file('pools-out.json')])).code).toBe(0);
    expect(JSON.parse(await readFile(file('pools-out.json'), 'utf8'))).toEqual({
      default_pool: { slots: 128, description: 'Default pool', include_deferred: false },
      etl: { slots: 3, description: 'loads', include_deferred: false },
    });
    expect((await run(['pools', 'delete', 'etl'])).code).toBe(0);

    expect(
      (await run(['connections', 'add', 'exp', '--conn-uri', 'http://u:secret@example.com:8080/p?x=1'])).code,
    ).toBe(0);
    expect((await run(['connections', 'export', file('conns.json')])).code).toBe(0);
    const exported = JSON.parse(await readFile(file('conns.json'), 'utf8'));
    expect(exported.exp).toMatchObject({
      conn_type: 'http',
      host: 'example.com',
      password: 'secret',
      port: 8080,
    });
    expect((await run(['connections', 'delete', 'exp'])).code).toBe(0);
    expect((await run(['connections', 'import', file('conns.json')])).code).toBe(0);
    const again = await run(['connections', 'import', file('conns.json')]);
    expect(again.stderr).toMatch(/exp: connection already exists/);
    const got = JSON.parse((await run(['connections', 'get', 'exp', '-o', 'json'])).stdout)[0];
    expect(got).toMatchObject({ host: 'example.com', port: 8080, extra: '{"x":"1"}', password: '***' });
  });

  it('db reset needs -y', async () => {
    expect((await run(['db', 'reset'])).code).toBe(2);
    expect((await run(['db', 'reset', '-y'])).code).toBe(0);
    expect((await run(['users', 'list', '-o', 'json'])).stdout.trim()).toBe('[]');
    // Every migration's tables went and came back (a table left behind would fail the re-run).
    expect((await run(['db', 'reset', '-y'])).code).toBe(0);
    expect((await run(['db', 'check-migrations'])).code).toBe(0);
  });
});

describe('two `db migrate` processes at once on a fresh SQLite home', () => {
  it('both succeed and the schema is created once', async () => {
    const h = await makeAirflowHome();
    try {
      // Write airflow.cfg first so both processes share the same fernet key.
      expect((await runUpdraft(['config', 'get-value', 'core', 'executor'], { env: h.env })).code).toBe(0);
      const [a, b] = await Promise.all([
        runUpdraft(['db', 'migrate'], { env: h.env }),
        runUpdraft(['db', 'migrate'], { env: h.env }),
      ]);
      expect([a.code, b.code, a.stderr + b.stderr]).toEqual([0, 0, '']);
      const applied = [a.stdout, b.stdout].filter((s) => s.includes('Applied migrations: 0001_initial'));
      expect(applied).toHaveLength(1);
      expect((await runUpdraft(['pools', 'list', '-o', 'json'], { env: h.env })).stdout).toContain(
        'default_pool',
      );
    } finally {
      await h.cleanup();
    }
  });
});

describe.each(['mysql', 'postgres'] as const)('updraft CLI on %s', (dialect) => {
  let h: AirflowHome;
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    h = await makeAirflowHome({ AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: database.url });
  });
  afterAll(async () => {
    await h?.cleanup();
    await database?.drop();
  });

  it('db init, users create/list, and migrate again', async () => {
    const init = await runUpdraft(['db', 'init'], { env: h.env });
    expect([init.code, init.stderr]).toEqual([0, '']);
    expect(init.stdout).toMatch(dialect === 'mysql' ? /MariaDB|MySQL/ : /PostgreSQL/);
    const args = [
      'users',
      'create',
      '-r',
      'Op',
      '-u',
      'ops',
      '-p',
      'pw',
      '-e',
      'ops@x.io',
      '-f',
      'O',
      '-l',
      'P',
    ];
    expect((await runUpdraft(args, { env: h.env })).code).toBe(0);
    const again = await runUpdraft(args, { env: h.env });
    expect([again.code, again.stdout.trim()]).toEqual([0, 'ops already exist in the db']);
    const list = JSON.parse((await runUpdraft(['users', 'list', '-o', 'json'], { env: h.env })).stdout);
    expect(list).toEqual([
      { id: 1, username: 'ops', email: 'ops@x.io', first_name: 'O', last_name: 'P', roles: ['Op'] },
    ]);
    expect((await runUpdraft(['db', 'migrate'], { env: h.env })).stdout).toMatch(/already up to date/);
  });
});
