import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  applyOverrides,
  defaultStack,
  loadOrCreateSecrets,
  loadStackFile,
  parseStack,
} from '../../src/provision/stack/index.js';
import { masker } from '../../src/provision/engine/run-log.js';
import { fingerprint, judgeHostKey } from '../../src/provision/remote/known-hosts.js';
import { familyFromOsRelease } from '../../src/provision/engine/facts.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'updraft-stack-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('stack file', () => {
  it('fills every choice from defaults and reads what is given', () => {
    const s = parseStack(
      'name: prod-1\nprofile: legacy\nhost:\n  address: 203.0.113.7\n  user: ec2-user\nairflow:\n  executor: LocalExecutor\n  web_port: 8081\n',
    );
    expect(s.name).toBe('prod-1');
    expect(s.profile).toBe('legacy');
    expect(s.host).toEqual({ address: '203.0.113.7', port: 22, user: 'ec2-user', key: null });
    expect(s.airflow.executor).toBe('LocalExecutor');
    expect(s.airflow.web_port).toBe(8081);
    expect(s.airflow.home).toBe('/opt/airflow');
    expect(s.database).toEqual({ name: 'airflow', user: 'airflow' });
  });

  it('names the key and the accepted form in every message, all problems at once', () => {
    const msg = messageOf(() =>
      parseStack(
        'name: Prod\nhost:\n  port: 70000\nairflow:\n  executor: KubernetesExecutor\n  user: root\nredis:\n  private_address: 8.8.8.8\nextra: 1\n',
        'stack.yaml',
      ),
    );
    expect(msg).toContain('stack.yaml is not valid');
    expect(msg).toContain(
      'name: must be lower-case letters, digits and dashes, at most 40 (e.g. prod-1) (got "Prod")',
    );
    expect(msg).toContain('host.port: must be an integer from 1 to 65535 (got 70000)');
    expect(msg).toContain(
      'airflow.executor: must be one of CeleryExecutor, LocalExecutor (got "KubernetesExecutor")',
    );
    expect(msg).toContain('airflow.user: must not be root');
    expect(msg).toContain(
      'redis.private_address: must be a private IPv4 address of the host (e.g. 10.0.1.5) (got "8.8.8.8")',
    );
    expect(msg).toContain(
      'extra: unknown key (accepted here: name, profile, target, host, airflow, redis, database, node, aws)',
    );
  });

  it('reports YAML syntax errors with their place', () => {
    expect(messageOf(() => parseStack('name: a\n  bad: [', 'x.yaml'))).toMatch(/x\.yaml is not valid YAML/);
    expect(messageOf(() => parseStack('name: a\nname: b\n'))).toMatch(/not valid YAML/);
  });

  it('passes the aws: section through untouched', () => {
    const s = parseStack('aws:\n  region: eu-north-1\n  instance_type: t3.large\n  anything: [1, 2]\n');
    expect(s.aws).toEqual({ region: 'eu-north-1', instance_type: 't3.large', anything: [1, 2] });
  });

  it('lets flags override the file, and validates them the same way', () => {
    const s = applyOverrides(defaultStack('x'), { host: '10.1.2.3', port: 2222, user: 'admin', key: '/k' });
    expect(s.host).toEqual({ address: '10.1.2.3', port: 2222, user: 'admin', key: '/k' });
    expect(messageOf(() => applyOverrides(defaultStack('x'), {}))).toMatch(
      /host\.address: required for an SSH target/,
    );
    const both = messageOf(() => applyOverrides(defaultStack('x'), { host: 'a b', profile: 'new' }));
    expect(both).toContain('host.address: must be a host name or IP address (got "a b")');
    expect(both).toContain('profile: must be one of current, legacy (got "new")');
    expect(applyOverrides(defaultStack('x'), { target: 'local' }).target).toBe('local');
  });

  it('resolves dags and key paths against the stack file’s folder', async () => {
    const file = join(dir, 'stack.yaml');
    await writeFile(file, 'airflow:\n  dags: ./dags\nhost:\n  key: keys/id_ed25519\n');
    const s = await loadStackFile(file);
    expect(s.airflow.dags).toBe(join(dir, 'dags'));
    expect(s.host.key).toBe(join(dir, 'keys/id_ed25519'));
  });
});

describe('stack secrets', () => {
  it('are generated once, kept 0600 in a 0700 folder, and read back unchanged', async () => {
    const env = { UPDRAFT_HOME: dir };
    const first = await loadOrCreateSecrets('s1', null, env);
    expect(first.created).toBe(true);
    expect((await stat(first.path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'stacks', 's1'))).mode & 0o777).toBe(0o700);
    expect(first.secrets.mysql_airflow_password).toMatch(/^[A-Za-z0-9_]{28}$/);
    expect(first.secrets.mysql_airflow_password).toMatch(/[a-z]/);
    expect(first.secrets.mysql_airflow_password).toMatch(/[A-Z]/);
    expect(first.secrets.mysql_airflow_password).toMatch(/[0-9]/);
    const again = await loadOrCreateSecrets('s1', null, env);
    expect(again.created).toBe(false);
    expect(again.secrets).toEqual(first.secrets);
    const withAdmin = await loadOrCreateSecrets('s1', 'chosen-password', env);
    expect(withAdmin.secrets.admin_password).toBe('chosen-password');
    expect(withAdmin.secrets.redis_password).toBe(first.secrets.redis_password);
  });

  it('are masked, longest first', () => {
    const mask = masker(['abcdefgh', 'abcdefghijkl']);
    expect(mask('x abcdefghijkl y abcdefgh z')).toBe('x ******** y ******** z');
  });
});

describe('host keys (trust on first use)', () => {
  it('is new, known, or changed with both fingerprints', () => {
    const a = Buffer.from('key-a');
    const b = Buffer.from('key-b');
    const known = new Map([['[h]:22', fingerprint(a)]]);
    expect(judgeHostKey(new Map(), '[h]:22', a)).toEqual({ kind: 'new', fingerprint: fingerprint(a) });
    expect(judgeHostKey(known, '[h]:22', a)).toEqual({ kind: 'known' });
    expect(judgeHostKey(known, '[h]:22', b)).toEqual({
      kind: 'changed',
      expected: fingerprint(a),
      got: fingerprint(b),
    });
    expect(fingerprint(a)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('OS detection', () => {
  it('knows the five families and names the supported ones otherwise', () => {
    expect(familyFromOsRelease('ID="amzn"\nVERSION_ID="2"\n').family).toBe('al2');
    expect(familyFromOsRelease('ID="amzn"\nVERSION_ID="2023"\n').family).toBe('al2023');
    expect(familyFromOsRelease('ID=debian\nVERSION_ID="12"\n').family).toBe('debian12');
    expect(familyFromOsRelease('ID=ubuntu\nVERSION_ID="24.04"\n').family).toBe('ubuntu2404');
    expect(() => familyFromOsRelease('ID=centos\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7"\n')).toThrow(
      /Unsupported operating system: CentOS Linux 7\. Supported: Amazon Linux 2, Amazon Linux 2023, Debian 12, Ubuntu 22\.04 and 24\.04\./,
    );
  });
});
