import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, UPDRAFT_BIN, runUpdraft } from '../support/cli.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { TmuxSession } from '../support/tmux.js';

/**
 * From `updraft setup` answers to a healthy node running an example DAG: the EC2 calls go to moto,
 * and the systemd test host (scripts/test-host.mjs, nspawn Debian 12 in its own network namespace)
 * stands in for the instance, reached through the documented address override (aws.ssh.host,
 * written by `setup --ssh-host`). Needs root and the npm and Debian registries: `npm run test:e2e`.
 */
const run = promisify(execFile);
const STACK = `aws-e2e-${process.pid}`;
const EXECUTOR = process.env['UPDRAFT_E2E_EXECUTOR'] ?? 'CeleryExecutor';

interface TestHost {
  name: string;
  address: string;
  keyFile: string;
}

let moto: MotoServer;
let th: TestHost;
let dir: string;
let ipServer: Server;
let session: TmuxSession | undefined;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'updraft-aws-e2e-'));
  moto = await startMoto();
  const { stdout } = await run('node', [join(REPO_ROOT, 'scripts/test-host.mjs'), 'create', '--json'], {
    maxBuffer: 8 << 20,
  });
  th = JSON.parse(stdout) as TestHost;
  // The wizard imports an existing public key: the test host's, so the "instance" accepts it.
  const parsed = ssh2.utils.parseKey(await readFile(th.keyFile));
  if (parsed instanceof Error || Array.isArray(parsed)) throw new Error('cannot read the test host key');
  await writeFile(
    `${th.keyFile}.pub`,
    `${parsed.type} ${parsed.getPublicSSH().toString('base64')} test-host\n`,
  );
  ipServer = createServer((_req, res) => res.end('198.51.100.77\n'));
  await new Promise<void>((resolve) => ipServer.listen(0, '127.0.0.1', resolve));
  const address = ipServer.address();
  env = {
    ...moto.env(),
    UPDRAFT_HOME: join(dir, 'home'),
    HOME: dir,
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    UPDRAFT_PUBLIC_IP_URL: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`,
    NODE_NO_WARNINGS: '1',
  };
});

afterAll(async () => {
  session?.kill();
  await new Promise((resolve) => ipServer?.close(resolve));
  if (th) await run('node', [join(REPO_ROOT, 'scripts/test-host.mjs'), 'destroy', th.name]).catch(() => {});
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function answer(s: TmuxSession, prompt: RegExp, ...keys: ({ type: string } | string)[]): Promise<void> {
  await s.waitFor(new RegExp(`\\? ${prompt.source}`));
  for (const k of keys) {
    if (typeof k === 'string') s.send(k);
    else s.type(k.type);
  }
}

async function api(method: string, path: string, password: string, body?: unknown): Promise<Response> {
  return fetch(`http://${th.address}:8080/api/v1${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64'),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

describe('updraft setup → up → a healthy node (moto for EC2, the nspawn host as the instance)', () => {
  it('answers in a terminal end with an example DAG run on the node, and destroy removes the AWS side', async () => {
    const stackFile = join(dir, `${STACK}.stack.yaml`);
    const vars = Object.entries(env)
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ');
    session = TmuxSession.start(
      `updraft-aws-e2e-${process.pid}`,
      `cd '${dir}' && env ${vars} '${process.execPath}' '${UPDRAFT_BIN}' setup --no-up --stack-file '${stackFile}' --ssh-host ${th.address} --ssh-user root; echo "WIZARD-EXIT=$?"; sleep 900`,
      { columns: 220, rows: 80 },
    );
    const s = session;
    await answer(s, /Stack name/, { type: STACK }, 'Enter');
    await answer(s, /AWS region/, 'Enter');
    await answer(s, /Instance type/, 'Enter');
    await answer(s, /OS profile/, 'Enter');
    await answer(s, /Network/, 'Enter');
    await answer(s, /Who may reach SSH/, 'Enter');
    await answer(s, /SSH key pair/, 'Down', 'Enter');
    await answer(s, /Public key file/, { type: `${th.keyFile}.pub` }, 'Enter');
    await answer(s, /Its private key file/, 'Enter');
    await answer(s, /Key pair name in AWS/, 'Enter');
    await answer(s, /Root volume size/, 'Enter');
    await answer(s, /Admin user name/, 'Enter');
    await answer(s, /Admin e-mail/, { type: 'ops@example.com' }, 'Enter');
    await answer(s, /Load the example DAGs/, { type: 'y' }, 'Enter');
    const plan = await s.waitFor(/\? Write the stack file\?/);
    expect(plan).toMatch(/network\s+the default VPC/);
    expect(plan).toMatch(/SSH and web\s+tcp\/22 and tcp\/8080 from 198\.51\.100\.77\/32/);
    s.send('Enter');
    const screen = await s.waitFor(/WIZARD-EXIT=\d+/);
    expect(screen, screen).toContain('WIZARD-EXIT=0');

    const written = await readFile(stackFile, 'utf8');
    expect(written).toContain(`host: ${th.address}`);
    expect(written).toContain('load_examples: true');
    // The stack file is used as the wizard wrote it (the engine's default CeleryExecutor, with its
    // worker unit); UPDRAFT_E2E_EXECUTOR=LocalExecutor runs the lighter variant, as the engine's own e2e.
    if (EXECUTOR !== 'CeleryExecutor') {
      await writeFile(stackFile, written.replace('airflow:\n', `airflow:\n  executor: ${EXECUTOR}\n`));
    }

    const up = await runUpdraft(['up', '--stack', stackFile, '--yes', '--json'], {
      env,
      timeoutMs: 1_200_000,
    });
    expect(up.code, up.stderr.slice(-4000)).toBe(0);
    const first = JSON.parse(up.stdout) as {
      ok: boolean;
      infrastructure: { outputs: { instanceId: string } };
      provision: { ok: boolean };
    };
    expect(first).toMatchObject({ ok: true, provision: { ok: true } });
    expect(first.infrastructure.outputs.instanceId).toMatch(/^i-/);

    // The node answers on the test host, and runs an example DAG to success.
    const secrets = JSON.parse(
      await readFile(join(dir, 'home', 'stacks', STACK, 'secrets.json'), 'utf8'),
    ) as { admin_password: string };
    const health = (await (await fetch(`http://${th.address}:8080/api/v1/health`)).json()) as {
      scheduler: { status: string };
    };
    expect(health.scheduler.status).toBe('healthy');
    expect(
      (await api('PATCH', '/dags/example_bash_operator', secrets.admin_password, { is_paused: false }))
        .status,
    ).toBe(200);
    const trigger = await api('POST', '/dags/example_bash_operator/dagRuns', secrets.admin_password, {});
    expect(trigger.status).toBe(200);
    const { dag_run_id } = (await trigger.json()) as { dag_run_id: string };
    let state = '';
    for (let i = 0; i < 180 && state !== 'success' && state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const res = await api(
        'GET',
        `/dags/example_bash_operator/dagRuns/${encodeURIComponent(dag_run_id)}`,
        secrets.admin_password,
      );
      state = ((await res.json()) as { state: string }).state;
    }
    expect(state).toBe('success');

    // up again converges: no AWS change, no host change.
    const again = await runUpdraft(['up', '--stack', stackFile, '--yes', '--json'], {
      env,
      timeoutMs: 600_000,
    });
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as {
      infrastructure: { changes: { action: string }[] };
      provision: { ok: boolean; changed: number };
    };
    expect(
      report.infrastructure.changes.filter((c) => c.action === 'create' || c.action === 'update'),
    ).toEqual([]);
    expect(report.provision).toMatchObject({ ok: true, changed: 0 });

    const destroyed = await runUpdraft(['destroy', '--stack', stackFile, '--yes', '--keep-local'], {
      env,
      timeoutMs: 300_000,
    });
    expect(destroyed.code, destroyed.stderr).toBe(0);
    const status = await runUpdraft(['status', '--stack', stackFile, '--json'], { env });
    expect(status.code).toBe(5);
  }, 1_800_000);
});
