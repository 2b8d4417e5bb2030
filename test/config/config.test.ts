import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { ensureDefaultConfig, getValueString, loadConfig } from '../../src/config/index.js';
import { createFernet } from '../../src/security/fernet.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'updraft-config-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const cfg = (body: string) => writeFile(join(home, 'airflow.cfg'), body);
const load = (env: Record<string, string> = {}) => loadConfig({ env: { AIRFLOW_HOME: home, ...env } });
const sourceOf = (c: ReturnType<typeof load>, section: string, key: string) =>
  c.resolved.find((r) => r.section === section && r.key === key)?.source;

describe('configuration layers', () => {
  it('falls back to Airflow defaults, with {AIRFLOW_HOME} paths resolved', () => {
    const c = load();
    expect(c.values.core.executor).toBe('SequentialExecutor');
    expect(c.values.core.parallelism).toBe(32);
    expect(c.values.core.dags_folder).toBe(join(home, 'dags'));
    expect(c.values.webserver.web_server_port).toBe(8080);
    expect(sourceOf(c, 'core', 'parallelism')).toBe('default');
  });

  it('applies precedence env > env _CMD > file > default', async () => {
    await cfg('[core]\nparallelism = 10\n');
    expect(load().values.core.parallelism).toBe(10);
    const withCmd = load({ AIRFLOW__CORE__PARALLELISM_CMD: 'echo 20' });
    expect([withCmd.values.core.parallelism, sourceOf(withCmd, 'core', 'parallelism')]).toEqual([
      20,
      'env_cmd',
    ]);
    const both = load({ AIRFLOW__CORE__PARALLELISM_CMD: 'echo 20', AIRFLOW__CORE__PARALLELISM: '30' });
    expect([both.values.core.parallelism, sourceOf(both, 'core', 'parallelism')]).toEqual([30, 'env']);
  });

  it('runs `_cmd` in the file for sensitive keys and refuses it for others', async () => {
    await cfg('[database]\nsql_alchemy_conn_cmd = echo sqlite:////tmp/from-cmd.db\n');
    const c = load();
    expect([c.values.database.sql_alchemy_conn, sourceOf(c, 'database', 'sql_alchemy_conn')]).toEqual([
      'sqlite:////tmp/from-cmd.db',
      'file_cmd',
    ]);
    await cfg('[core]\nparallelism_cmd = echo 3\n');
    expect(() => load()).toThrow(/\[core\] parallelism_cmd is only allowed for sensitive keys/);
  });

  it('accepts the deprecated core.sql_alchemy_conn and api.auth_backend with a warning', async () => {
    await cfg(
      '[core]\nsql_alchemy_conn = postgresql://u@h/db\n[api]\nauth_backend = airflow.api.auth.backend.basic_auth\n',
    );
    const c = load();
    expect(c.values.database.sql_alchemy_conn).toBe('postgresql://u@h/db');
    expect(c.values.api.auth_backends).toEqual(['airflow.api.auth.backend.basic_auth']);
    expect(c.warnings.join('\n')).toMatch(
      /\[core\] sql_alchemy_conn is deprecated.*\[database\] sql_alchemy_conn/,
    );
    expect(c.warnings.join('\n')).toMatch(/auth_backend is deprecated/);
  });

  it('fails on malformed values naming section, key and the accepted form', async () => {
    expect(() => load({ AIRFLOW__CORE__PARALLELISM: 'lots' })).toThrow(
      /\[core\] parallelism = "lots" is not valid: expected a whole number/,
    );
    expect(() => load({ AIRFLOW__CORE__EXECUTOR: 'MagicExecutor' })).toThrow(
      /\[core\] executor .*expected one of .*LocalExecutor/,
    );
    await cfg('[webserver]\nweb_server_port = 99999\n');
    let error: unknown;
    try {
      load();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ section: 'webserver', key: 'web_server_port' });
    expect((error as Error).message).toMatch(/at most 65535/);
  });

  it('names unknown keys for get-value', () => {
    expect(() => getValueString(load(), 'core', 'no_such_key')).toThrow(/\[core\/no_such_key\] is not found/);
    expect(getValueString(load({ AIRFLOW__CORE__LOAD_EXAMPLES: 'false' }), 'core', 'load_examples')).toBe(
      'False',
    );
  });
});

describe('the default airflow.cfg', () => {
  it('is written once, mode 0600, with fresh valid fernet and secret keys', async () => {
    const file = join(home, 'airflow.cfg');
    expect(ensureDefaultConfig(file, home)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const first = load();
    expect(first.values.core.fernet_key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(first.values.webserver.secret_key.length).toBeGreaterThanOrEqual(24);
    expect(createFernet(first.values.core.fernet_key).enabled).toBe(true);
    // A second call keeps the file (and its keys) as they are.
    const text = await readFile(file, 'utf8');
    expect(ensureDefaultConfig(file, home)).toBe(false);
    expect(await readFile(file, 'utf8')).toBe(text);
    // Another home gets different keys.
    const other = await mkdtemp(join(tmpdir(), 'updraft-config-'));
    try {
      ensureDefaultConfig(join(other, 'airflow.cfg'), other);
      const second = loadConfig({ env: { AIRFLOW_HOME: other } });
      expect(second.values.core.fernet_key).not.toBe(first.values.core.fernet_key);
      expect(second.values.webserver.secret_key).not.toBe(first.values.webserver.secret_key);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
