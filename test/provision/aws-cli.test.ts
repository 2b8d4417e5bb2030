import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runUpdraft } from '../support/cli.js';
import { startMoto, type MotoServer } from '../support/moto.js';

// moto's first answers (it loads its AMI catalogue) and child processes are slow on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

/**
 * `updraft up / status / outputs / destroy` as a CI script uses them: the built CLI in a child
 * process, moto as AWS, exit codes and one JSON document on stdout.
 */
let moto: MotoServer;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  moto = await startMoto();
  dir = mkdtempSync(join(tmpdir(), 'updraft-aws-cli-'));
  env = {
    ...moto.env(),
    UPDRAFT_HOME: join(dir, 'home'),
    HOME: dir,
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    NODE_NO_WARNINGS: '1',
  };
});

afterAll(async () => {
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function stackFile(name: string, aws: string): string {
  const path = join(dir, `${name}.stack.yaml`);
  writeFileSync(
    path,
    `name: ${name}\nprofile: current\nairflow:\n  admin:\n    username: admin\n    email: ops@example.com\naws:\n${aws}`,
  );
  return path;
}

describe('updraft up/status/outputs/destroy against moto', () => {
  it('a CI round trip: dry run, refusal without --yes, up --json, status, outputs, destroy', async () => {
    const file = stackFile(
      'ci',
      '  region: us-east-1\n  allowedCidrs: [203.0.113.5/32]\n  network:\n    mode: new\n',
    );

    const dry = await runUpdraft(['up', '--stack', file, '--dry-run', '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      dryRun: boolean;
      infrastructure: { changes: { action: string; resource: string }[] };
    };
    expect(plan.dryRun).toBe(true);
    expect(plan.infrastructure.changes.filter((c) => c.action === 'create').map((c) => c.resource)).toContain(
      'instance',
    );

    // Without a terminal and without --yes: usage error (2), nothing made.
    const refused = await runUpdraft(['up', '--stack', file], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pass --yes/);
    const absent = await runUpdraft(['status', '--stack', 'ci', '--region', 'us-east-1', '--json'], { env });
    expect(absent.code).toBe(5);
    expect(JSON.parse(absent.stdout)).toMatchObject({ stack: 'ci', exists: false });
    expect(existsSync(join(dir, 'home', 'stacks', 'ci', 'id_ed25519'))).toBe(false);

    const up = await runUpdraft(['up', '--stack', file, '--yes', '--no-provision', '--json'], {
      env,
      timeoutMs: 120_000,
    });
    expect(up.code, up.stderr).toBe(0);
    const report = JSON.parse(up.stdout) as {
      ok: boolean;
      infrastructure: { outputs: Record<string, unknown> };
    };
    expect(report.ok).toBe(true);
    expect(report.infrastructure.outputs).toMatchObject({ state: 'running', exists: true });
    const instanceId = report.infrastructure.outputs.instanceId as string;
    expect(instanceId).toMatch(/^i-/);
    expect(statSync(join(dir, 'home', 'stacks', 'ci', 'id_ed25519')).mode & 0o777).toBe(0o600);

    const status = await runUpdraft(['status', '--stack', file, '--json'], { env });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      instanceId,
      state: 'running',
      health: { system: 'ok', instance: 'ok' },
    });

    const outputs = await runUpdraft(['outputs', '--stack', 'ci', '--region', 'us-east-1'], { env });
    expect(outputs.code).toBe(0);
    expect(outputs.stdout).toContain(`instance_id=${instanceId}`);
    expect(outputs.stdout).toMatch(/^url=http:\/\/\S+:8080\/$/m);

    // --ssh-host: the address override for private networks shows in the SSH command.
    const override = await runUpdraft(['outputs', '--stack', file, '--ssh-host', '10.9.8.7', '--json'], {
      env,
    });
    expect(JSON.parse(override.stdout)).toMatchObject({
      ssh_host: '10.9.8.7',
      ssh_command: expect.stringContaining('ec2-user@10.9.8.7'),
    });

    // Up again: converged, the same instance.
    const again = await runUpdraft(['up', '--stack', file, '--yes', '--no-provision', '--json'], {
      env,
      timeoutMs: 120_000,
    });
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as {
      infrastructure: { changes: { action: string }[]; outputs: { instanceId: string } };
    };
    expect(second.infrastructure.outputs.instanceId).toBe(instanceId);
    expect(
      second.infrastructure.changes.filter((c) => c.action === 'create' || c.action === 'update'),
    ).toEqual([]);

    const refuseDestroy = await runUpdraft(['destroy', '--stack', 'ci', '--region', 'us-east-1'], { env });
    expect(refuseDestroy.code).toBe(2);

    const destroy = await runUpdraft(['destroy', '--stack', file, '--yes', '--delete-local', '--json'], {
      env,
      timeoutMs: 120_000,
    });
    expect(destroy.code, destroy.stderr).toBe(0);
    const destroyed = JSON.parse(destroy.stdout) as {
      changes: { action: string; resource: string }[];
      localFolder: { deleted: boolean };
    };
    expect(destroyed.changes.filter((c) => c.action === 'delete').map((c) => c.resource)).toEqual([
      'instance',
      'key-pair',
      'security-group',
      'route-table',
      'internet-gateway',
      'subnet',
      'vpc',
      'local-key',
    ]);
    expect(destroyed.localFolder.deleted).toBe(true);
    expect(existsSync(join(dir, 'home', 'stacks', 'ci'))).toBe(false);
    const gone = await runUpdraft(['status', '--stack', 'ci', '--region', 'us-east-1'], { env });
    expect(gone.code).toBe(5);
  }, 300_000);

  it('bad input is refused with exit 4 before any AWS call', async () => {
    const file = stackFile(
      'bad',
      '  region: us-east-1\n  allowedCidrs: [203.0.113.5]\n  instanceTyp: t2.large\n',
    );
    // An endpoint where nothing listens: reaching AWS at all would fail differently.
    const r = await runUpdraft(['up', '--stack', file, '--dry-run'], {
      env: { ...env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' },
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/unknown key 'instanceTyp'/);
  });

  it('no credentials: exit 7 with a message that says how to provide them', async () => {
    const file = stackFile(
      'nocred',
      '  region: us-east-1\n  allowedCidrs: [203.0.113.5/32]\n  profile: nobody\n',
    );
    const { AWS_ACCESS_KEY_ID: _a, AWS_SECRET_ACCESS_KEY: _s, ...withoutKeys } = env;
    const r = await runUpdraft(['up', '--stack', file, '--dry-run'], { env: withoutKeys });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/No AWS credentials found through profile 'nobody'/);
  });
});
