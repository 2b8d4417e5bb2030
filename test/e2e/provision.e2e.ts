import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, UPDRAFT_BIN } from '../support/cli.js';
import { connectSsh, type RemoteHost } from '../../dist/provision/index.js';
import type { ProvisionResult } from '../../dist/provision/index.js';

/**
 * A Debian 12 host booted with systemd-nspawn in its own network namespace, provisioned over SSH
 * from scratch by `updraft provision`, then: a DAG triggered through the REST API with basic auth,
 * security checks on the host, a no-change re-run, check mode on a drifted host, a run killed
 * midway and re-run to convergence. Needs root (debootstrap, netns, nspawn) and the npm and Debian
 * registries.
 */
const run = promisify(execFile);
const FIXTURES = join(REPO_ROOT, 'test/provision/fixtures');
/** CeleryExecutor with the worker unit by default; UPDRAFT_E2E_EXECUTOR=LocalExecutor runs without it. */
const EXECUTOR = process.env['UPDRAFT_E2E_EXECUTOR'] ?? 'CeleryExecutor';
let stackFile: string;

interface TestHost {
  name: string;
  address: string;
  keyFile: string;
}

let th: TestHost;
let home: string;
let host: RemoteHost;
const stackName = `e2e-${process.pid}`;

function provisionArgs(extra: string[] = []): string[] {
  return [
    UPDRAFT_BIN,
    'provision',
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
    '--json',
    ...extra,
  ];
}

async function provisionCli(extra: string[] = []): Promise<ProvisionResult> {
  const env = { ...process.env, UPDRAFT_HOME: home };
  const r = await run('node', provisionArgs(extra), { env, maxBuffer: 64 << 20 }).catch(
    (e: { stdout: string; stderr: string }) => e,
  );
  try {
    return JSON.parse(r.stdout) as ProvisionResult;
  } catch {
    throw new Error(`provision printed no JSON result:\n${r.stdout}\n${r.stderr}`);
  }
}

async function adminPassword(): Promise<string> {
  const s = JSON.parse(await readFile(join(home, 'stacks', stackName, 'secrets.json'), 'utf8')) as {
    admin_password: string;
  };
  return s.admin_password;
}

async function api(method: string, path: string, body?: unknown, auth = true): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth)
    headers['authorization'] = 'Basic ' + Buffer.from(`admin:${await adminPassword()}`).toString('base64');
  return fetch(`http://${th.address}:8080/api/v1${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function sh(command: string): Promise<string> {
  return (await host.exec(command)).stdout.trim();
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'updraft-e2e-'));
  stackFile = join(home, 'stack.yaml');
  const fixture = await readFile(join(FIXTURES, 'e2e-stack.yaml'), 'utf8');
  await writeFile(
    stackFile,
    fixture
      .replace('executor: CeleryExecutor', `executor: ${EXECUTOR}`)
      .replace('dags: ./dags', `dags: ${join(FIXTURES, 'dags')}`),
  );
  const { stdout } = await run('node', [join(REPO_ROOT, 'scripts/test-host.mjs'), 'create', '--json'], {
    maxBuffer: 8 << 20,
  });
  th = JSON.parse(stdout) as TestHost;
});

afterAll(async () => {
  await host?.close();
  if (th) await run('node', [join(REPO_ROOT, 'scripts/test-host.mjs'), 'destroy', th.name]).catch(() => {});
  if (home) await rm(home, { recursive: true, force: true });
});

describe('updraft provision on a fresh Debian 12 host', () => {
  it('converges a bare host into a healthy node', async () => {
    const result = await provisionCli();
    expect(result.error).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.os).toBe('debian12');
    expect(result.changed).toBeGreaterThan(10);
    expect(result.url).toBe(`http://${th.address}:8080`);
    expect(result.steps.map((s) => s.id)).toEqual([
      'redis',
      'database-server',
      'database',
      'node',
      'orchestrator',
      'config',
      'services',
    ]);
    host = await connectSsh({
      address: th.address,
      port: 22,
      user: 'root',
      keyFile: th.keyFile,
      knownHostsFile: join(home, 'known_hosts'),
    });
    const health = (await (await fetch(`${result.url}/api/v1/health`)).json()) as {
      scheduler: { status: string };
    };
    expect(health.scheduler.status).toBe('healthy');
  });

  it('runs a DAG triggered through the REST API with basic auth', async () => {
    expect((await api('GET', '/dags', undefined, false)).status).toBe(401);
    const unpause = await api('PATCH', '/dags/provision_smoke', { is_paused: false });
    expect(unpause.status).toBe(200);
    const trigger = await api('POST', '/dags/provision_smoke/dagRuns', {});
    expect(trigger.status).toBe(200);
    const { dag_run_id } = (await trigger.json()) as { dag_run_id: string };
    let state = '';
    for (let i = 0; i < 120 && state !== 'success' && state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const runRes = await api('GET', `/dags/provision_smoke/dagRuns/${encodeURIComponent(dag_run_id)}`);
      state = ((await runRes.json()) as { state: string }).state;
    }
    expect(state).toBe('success');
    const tis = (await (
      await api('GET', `/dags/provision_smoke/dagRuns/${encodeURIComponent(dag_run_id)}/taskInstances`)
    ).json()) as {
      task_instances: { task_id: string; state: string }[];
    };
    expect(tis.task_instances.map((t) => `${t.task_id}:${t.state}`).sort()).toEqual([
      'hello:success',
      'runs_as_airflow:success',
    ]);
  });

  it('leaves the host secured', async () => {
    // Redis: refuses clients without the password, listens on loopback only.
    expect(await sh('redis-cli -h 127.0.0.1 ping 2>&1 || true')).toMatch(/NOAUTH/);
    const listeners = await sh(`ss -Hltn 'sport = :6379' | awk '{print $4}'`);
    expect(listeners.split('\n').sort()).toEqual(['127.0.0.1:6379']);
    // MySQL: bound to loopback; the airflow user has privileges on airflow.* only.
    expect(await sh(`ss -Hltn 'sport = :3306' | awk '{print $4}'`)).toBe('127.0.0.1:3306');
    const grants = (await sh(`mysql -N -e "SHOW GRANTS FOR 'airflow'@'localhost'"`)).split('\n');
    expect(grants.filter((g) => !/^GRANT USAGE ON \*\.\* TO/.test(g))).toEqual([
      'GRANT ALL PRIVILEGES ON `airflow`.* TO `airflow`@`localhost`',
    ]);
    // airflow.cfg: 0600, owned by the service user.
    expect(await sh('stat -c "%a %U %G" /opt/airflow/airflow.cfg')).toBe('600 airflow airflow');
    // Units run as airflow, not root.
    for (const unit of EXECUTOR === 'CeleryExecutor'
      ? ['updraft-scheduler', 'updraft-webserver', 'updraft-worker']
      : ['updraft-scheduler', 'updraft-webserver']) {
      expect(await sh(`systemctl show -p User --value ${unit}`)).toBe('airflow');
      const pid = await sh(`systemctl show -p MainPID --value ${unit}`);
      expect(await sh(`ps -o user= -p ${pid}`)).toBe('airflow');
    }
    // The operator's copy of the secrets: folder 0700, file 0600; the run log does not contain them.
    const dir = join(home, 'stacks', stackName);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'secrets.json'))).mode & 0o777).toBe(0o600);
    const secrets = Object.values(
      JSON.parse(await readFile(join(dir, 'secrets.json'), 'utf8')) as Record<string, string>,
    );
    const { stdout: logs } = await run('sh', ['-c', `cat ${dir}/logs/*.log`], { maxBuffer: 64 << 20 });
    expect(logs.length).toBeGreaterThan(1000);
    for (const s of secrets) expect(logs.includes(s)).toBe(false);
  });

  it('changes nothing when run again on the converged host', async () => {
    const result = await provisionCli();
    expect(result.ok).toBe(true);
    expect(result.changed).toBe(0);
    expect(result.steps.every((s) => s.status === 'unchanged')).toBe(true);
  });

  it('works the same through sudo for a non-root login', async () => {
    const args = provisionArgs(['--check']).map((a) => (a === 'root' ? 'admin' : a));
    const r = await run('node', args, {
      env: { ...process.env, UPDRAFT_HOME: home },
      maxBuffer: 64 << 20,
    }).catch((e: { stdout: string }) => e);
    const result = JSON.parse(r.stdout) as ProvisionResult;
    expect(result.error).toBeUndefined();
    expect(result.host).toBe(`admin@${th.address}`);
    expect(result.changed).toBe(0);
  });

  it('check mode on a drifted host shows the diff and changes nothing', async () => {
    await sh(
      `sed -i 's/^protected-mode yes/protected-mode no/' /etc/redis/redis.conf && chmod 0644 /opt/airflow/airflow.cfg`,
    );
    const before = await sh('md5sum /etc/redis/redis.conf; stat -c %a /opt/airflow/airflow.cfg');
    const result = await provisionCli(['--check']);
    expect(result.ok).toBe(true);
    expect(result.check).toBe(true);
    const changes = result.steps.flatMap((s) => s.changes);
    const redis = changes.find((c) => c.resource === '/etc/redis/redis.conf');
    expect(redis?.diff).toMatch(/-protected-mode no\n\+protected-mode yes/);
    expect(redis?.diff).toContain('requirepass ********');
    expect(changes.find((c) => c.resource === '/opt/airflow/airflow.cfg')?.summary).toBe('mode 644 -> 0600');
    expect(await sh('md5sum /etc/redis/redis.conf; stat -c %a /opt/airflow/airflow.cfg')).toBe(before);
    // The real run repairs both and restarts what reads them.
    const fixed = await provisionCli();
    expect(fixed.ok).toBe(true);
    expect(fixed.steps.find((s) => s.id === 'redis')?.changes.map((c) => c.summary)).toEqual([
      'update content',
      'restart (its configuration changed)',
    ]);
    expect(await sh('stat -c %a /opt/airflow/airflow.cfg')).toBe('600');
  });

  it('a run killed midway converges when run again', async () => {
    // Take away the runtime and the release so the run has work to do, then kill it mid-upload.
    await sh(
      'systemctl stop updraft-scheduler updraft-webserver; rm -rf /opt/updraft/node /opt/updraft/node-v* /opt/updraft/current',
    );
    const env = { ...process.env, UPDRAFT_HOME: home };
    const child = spawn(
      'node',
      provisionArgs().filter((a) => a !== '--json'),
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // The database steps are done: the Node runtime upload is under way.
        if (out.includes('Database airflow and user airflow')) {
          setTimeout(() => child.kill('SIGKILL'), 300);
        }
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    expect(out).not.toContain('Updraft is healthy');
    const again = await provisionCli();
    expect(again.error).toBeUndefined();
    expect(again.ok).toBe(true);
    expect(again.changed).toBeGreaterThan(0);
    const third = await provisionCli();
    expect(third.changed).toBe(0);
    expect((await fetch(`http://${th.address}:8080/api/v1/health`)).status).toBe(200);
  });
});
