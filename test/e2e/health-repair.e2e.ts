import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, UPDRAFT_BIN } from '../support/cli.js';
import { connectSsh, type RemoteHost } from '../../dist/provision/index.js';
import type { HealthReport } from '../../dist/provision/health/types.js';

/**
 * `updraft health` and `updraft repair` on a real provisioned node: a Debian 12 host booted with
 * systemd-nspawn (scripts/test-host.mjs), provisioned over SSH, then each fault injected for real.
 * health must name it, repair must fix it, and the run history must survive.
 */
const run = promisify(execFile);
const FIXTURES = join(REPO_ROOT, 'test/provision/fixtures');
const EXECUTOR = process.env['UPDRAFT_E2E_EXECUTOR'] ?? 'LocalExecutor';
const stackName = `health-${process.pid}`;

let th: { name: string; address: string; keyFile: string };
let home: string;
let stackFile: string;
let host: RemoteHost;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, UPDRAFT_HOME: home };
  const target = [
    '--host',
    th.address,
    '--user',
    'root',
    '--key',
    th.keyFile,
    '--stack',
    stackFile,
    '--name',
    stackName,
  ];
  return run('node', [UPDRAFT_BIN, ...args, ...target], { env, maxBuffer: 64 << 20 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

async function health(): Promise<{ code: number; report: HealthReport }> {
  const r = await cli(['health', '--json']);
  try {
    return { code: r.code, report: JSON.parse(r.stdout) as HealthReport };
  } catch {
    throw new Error(`health printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const failing = (report: HealthReport) =>
  report.checks
    .filter((c) => c.status === 'fail')
    .map((c) => c.id)
    .sort();

async function sh(command: string): Promise<string> {
  return (await host.exec(command)).stdout.trim();
}

/** Dag runs and task instances in the node's database, and its task log files. */
async function history(): Promise<string> {
  return sh(
    `mysql -N -e "SELECT (SELECT COUNT(*) FROM airflow.dag_run), (SELECT COUNT(*) FROM airflow.task_instance)"; find /opt/airflow/logs -name '*.log' -path '*dag_id=*' | wc -l`,
  );
}

async function repair(): Promise<{ code: number; after: HealthReport }> {
  const r = await cli(['repair', '--yes', '--json']);
  let out: { after?: HealthReport; before: HealthReport };
  try {
    out = JSON.parse(r.stdout) as typeof out;
  } catch {
    throw new Error(`repair printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, after: out.after ?? out.before };
}

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  const secrets = JSON.parse(await readFile(join(home, 'stacks', stackName, 'secrets.json'), 'utf8')) as {
    admin_password: string;
  };
  const headers = {
    'content-type': 'application/json',
    authorization: 'Basic ' + Buffer.from(`admin:${secrets.admin_password}`).toString('base64'),
  };
  return fetch(`http://${th.address}:8080/api/v1${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'updraft-health-e2e-'));
  stackFile = join(home, 'stack.yaml');
  const fixture = await readFile(join(FIXTURES, 'e2e-stack.yaml'), 'utf8');
  await writeFile(
    stackFile,
    fixture
      .replace('executor: LocalExecutor', `executor: ${EXECUTOR}`)
      .replace('dags: ./dags', `dags: ${join(FIXTURES, 'dags')}`),
  );
  const { stdout } = await run('node', [join(REPO_ROOT, 'scripts/test-host.mjs'), 'create', '--json'], {
    maxBuffer: 8 << 20,
  });
  th = JSON.parse(stdout) as typeof th;
  const provisioned = await cli(['provision', '--json']);
  if (provisioned.code !== 0)
    throw new Error(`provision failed:\n${provisioned.stdout}\n${provisioned.stderr}`);
  host = await connectSsh({
    address: th.address,
    port: 22,
    user: 'root',
    keyFile: th.keyFile,
    knownHostsFile: join(home, 'known_hosts'),
  });
  // Some history that every repair must keep: one finished run with its task logs.
  expect((await api('PATCH', '/dags/provision_smoke', { is_paused: false })).status).toBe(200);
  const { dag_run_id } = (await (await api('POST', '/dags/provision_smoke/dagRuns', {})).json()) as {
    dag_run_id: string;
  };
  let state = '';
  for (let i = 0; i < 120 && state !== 'success' && state !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    state = (
      (await (
        await api('GET', `/dags/provision_smoke/dagRuns/${encodeURIComponent(dag_run_id)}`)
      ).json()) as { state: string }
    ).state;
  }
  expect(state).toBe('success');
});

afterAll(async () => {
  await host?.close();
  if (th) await run('node', [join(REPO_ROOT, 'scripts/test-host.mjs'), 'destroy', th.name]).catch(() => {});
  if (home) await rm(home, { recursive: true, force: true });
});

describe('updraft health and repair on a provisioned node', () => {
  it('reports a fresh node healthy (exit 0) in one pass over one connection', async () => {
    const { code, report } = await health();
    expect(failing(report)).toEqual([]);
    expect(report.checks.filter((c) => c.status === 'warn')).toEqual([]);
    expect(code).toBe(0);
    // Each check says how long it took (its speed is measured in docs/benchmarks.md, not here).
    for (const c of report.checks) expect(c.durationMs, c.id).toEqual(expect.any(Number));
    for (const id of [
      'host.ssh',
      'redis.auth',
      'redis.noauth',
      'redis.listen',
      'mysql.user',
      'mysql.grants',
      'mysql.schema',
      'config.mode',
      'config.settings',
      'services.scheduler-heartbeat',
    ]) {
      expect(report.checks.find((c) => c.id === id)?.status).toBe('ok');
    }
  });

  it('names services, Redis, grants and file-mode faults, and repair fixes them with history intact', async () => {
    const before = await history();
    await sh(
      [
        'systemctl stop redis-server',
        // Stopped and disabled: a plain kill would only make systemd restart it (Restart=on-failure).
        'systemctl disable --now updraft-scheduler',
        `mysql -e "GRANT ALL PRIVILEGES ON *.* TO 'airflow'@'localhost'"`,
        'chmod 0644 /opt/airflow/airflow.cfg',
      ].join('; '),
    );
    const { code, report } = await health();
    expect(code).toBe(2);
    expect(failing(report)).toEqual(
      expect.arrayContaining(['redis.service', 'services.updraft-scheduler', 'mysql.grants', 'config.mode']),
    );
    expect(report.checks.find((c) => c.id === 'mysql.grants')?.evidence).toContain('ON *.*');
    const fixed = await repair();
    expect(failing(fixed.after)).toEqual([]);
    expect(fixed.code).toBe(0);
    expect(await sh('systemctl is-enabled updraft-scheduler')).toBe('enabled');
    expect(await history()).toBe(before);
  });

  it('names a changed Redis password, a dropped DB user, a wrong broker URL and a missing migration, and repair fixes them', async () => {
    const before = await history();
    const secrets = JSON.parse(await readFile(join(home, 'stacks', stackName, 'secrets.json'), 'utf8')) as {
      redis_password: string;
    };
    await sh(
      [
        `redis-cli -a '${secrets.redis_password}' --no-auth-warning CONFIG SET requirepass changed-behind-your-back`,
        `mysql -e "DROP USER 'airflow'@'localhost'"`,
        `sed -i 's#^broker_url = .*#broker_url = redis://10.255.255.1:6379/0#' /opt/airflow/airflow.cfg`,
        // A node whose last upgrade did not migrate: the newest migration (0007) undone by hand.
        // (Only the newest can be missing: the migrator refuses a gap before an applied one.)
        `mysql -e "ALTER TABLE airflow.job DROP INDEX idx_job_try, DROP COLUMN run_id, DROP COLUMN task_id, DROP COLUMN map_index, DROP COLUMN try_number; DELETE FROM airflow.updraft_migration WHERE name = '0007_job_try_key'"`,
      ].join('; '),
    );
    const { code, report } = await health();
    expect(code).toBe(2);
    expect(failing(report)).toEqual(expect.arrayContaining(['redis.auth', 'mysql.user', 'config.settings']));
    // The user is gone, so the schema is read after repair, when it signs in again.
    const fixed = await repair();
    expect(failing(fixed.after)).toEqual([]);
    expect(fixed.after.checks.find((c) => c.id === 'mysql.schema')?.status).toBe('ok');
    expect(await history()).toBe(before);
  });

  it('a restart-looping unit: health shows the loop with its journal, repair puts the override aside', async () => {
    const unit = EXECUTOR === 'CeleryExecutor' ? 'updraft-worker' : 'updraft-webserver';
    await sh(
      `mkdir -p /etc/systemd/system/${unit}.service.d && printf '[Service]\\nExecStart=\\nExecStart=/bin/sh -c "echo boom; exit 1"\\nRestartSec=1\\n' > /etc/systemd/system/${unit}.service.d/broken.conf && systemctl daemon-reload && systemctl restart ${unit} || true`,
    );
    await new Promise((r) => setTimeout(r, 6000));
    const { report } = await health();
    const check = report.checks.find((c) => c.id === `services.${unit}`);
    expect(check?.status).toBe('fail');
    expect(check?.finding).toMatch(/restart-looping|activating|failed/);
    expect(check?.evidence).toContain('boom');
    const fixed = await repair();
    expect(failing(fixed.after)).toEqual([]);
    expect(await sh(`ls /etc/systemd/system/${unit}.service.d/`)).toBe('broken.conf.updraft-disabled');
  });

  it('a nearly full log volume is a warning (exit 1) that repair leaves alone', async () => {
    await sh(
      'mount -t tmpfs -o size=8m tmpfs /opt/airflow/logs && fallocate -l 7900k /opt/airflow/logs/fill',
    );
    try {
      const { code, report } = await health();
      expect(report.checks.find((c) => c.id === 'host.disk')?.status).toBe('warn');
      expect(failing(report)).toEqual([]);
      expect(code).toBe(1);
      const r = await cli(['repair', '--check']);
      expect(r.stdout).toContain('Nothing to repair.');
    } finally {
      await sh('umount /opt/airflow/logs');
    }
  });
});
