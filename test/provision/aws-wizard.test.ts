import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { discoverStack } from '../../src/provision/aws/discovery.js';
import { createAwsClients } from '../../src/provision/aws/session.js';
import { runUpdraft, UPDRAFT_BIN } from '../support/cli.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { TmuxSession } from '../support/tmux.js';

// moto's first answers (it loads its AMI catalogue) and child processes are slow on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

/**
 * `updraft setup` typed into a real terminal (tmux): the answers, the plan on the screen, the
 * stack file written; and Ctrl-C halfway leaving no file, no key and no AWS resource.
 */
let moto: MotoServer;
let dir: string;
let ipServer: Server;
let ipUrl: string;
const sessions: TmuxSession[] = [];

beforeAll(async () => {
  moto = await startMoto();
  dir = mkdtempSync(join(tmpdir(), 'updraft-wizard-'));
  // Stands in for checkip: the wizard's default for "who may reach SSH" is this address /32.
  ipServer = createServer((_req, res) => res.end('198.51.100.23\n'));
  await new Promise<void>((resolve) => ipServer.listen(0, '127.0.0.1', resolve));
  const address = ipServer.address();
  ipUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
});

afterAll(async () => {
  for (const s of sessions) s.kill();
  await new Promise((resolve) => ipServer?.close(resolve));
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function wizardEnv(): Record<string, string> {
  return {
    ...moto.env(),
    UPDRAFT_HOME: join(dir, 'home'),
    HOME: dir,
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    UPDRAFT_PUBLIC_IP_URL: ipUrl,
    NODE_NO_WARNINGS: '1',
  };
}

function startWizard(name: string, args: string): TmuxSession {
  const env = Object.entries(wizardEnv())
    .map(([k, v]) => `${k}='${v}'`)
    .join(' ');
  const session = TmuxSession.start(
    `updraft-wizard-${name}-${process.pid}`,
    `cd '${dir}' && env ${env} '${process.execPath}' '${UPDRAFT_BIN}' setup ${args}; echo "WIZARD-EXIT=$?"; sleep 600`,
  );
  sessions.push(session);
  return session;
}

/** Wait for the prompt to be the active one (`? message`), then answer it. */
async function answer(s: TmuxSession, prompt: RegExp, ...keys: ({ type: string } | string)[]): Promise<void> {
  await s.waitFor(new RegExp(`\\? ${prompt.source}`));
  for (const k of keys) {
    if (typeof k === 'string') s.send(k);
    else s.type(k.type);
  }
}

describe('updraft setup in a terminal', () => {
  it('asks, validates, shows the plan with its cost class, and writes the stack file', async () => {
    const s = startWizard('full', `--stack-file '${join(dir, 'wiz.stack.yaml')}' --no-up`);
    await answer(s, /Stack name/, { type: 'Bad_Name' }, 'Enter');
    await s.waitFor(/lower-case letters, digits and dashes/); // the validation message, prompt still open
    for (let i = 0; i < 8; i++) s.send('BSpace');
    s.type('wiz');
    s.send('Enter');
    await answer(s, /AWS region/, 'Enter');
    await answer(s, /Instance type .*t2\.large/, { type: 'x9.nope' }, 'Enter');
    // Validated against AWS: not offered. Clear it and give the document's type.
    await s.waitFor(/x9\.nope is not offered in us-east-1/);
    for (let i = 0; i < 8; i++) s.send('BSpace');
    s.type('t2.large');
    s.send('Enter');
    await answer(s, /OS profile/, 'Down', 'Enter');
    await answer(s, /Network/, 'Down', 'Enter');
    await answer(s, /VPC CIDR/, 'Enter');
    await answer(s, /Public subnet CIDR/, 'Enter');
    await answer(s, /Who may reach SSH and the web UI.*\(198\.51\.100\.23\/32\)/, 'Enter');
    await answer(s, /SSH key pair/, 'Enter');
    await answer(s, /Key pair name in AWS/, 'Enter');
    await answer(s, /Root volume size/, 'Enter');
    await answer(s, /Admin user name/, 'Enter');
    await answer(s, /Admin e-mail/, { type: 'ops@example.com' }, 'Enter');
    await answer(s, /Load the example DAGs/, 'Enter');

    const screen = await s.waitFor(/\? Write the stack file\?/);
    expect(screen).toContain('Stack wiz in us-east-1');
    expect(screen).toMatch(/OS profile\s+Amazon Linux 2 with MySQL 5\.7.*END OF LIFE/);
    expect(screen).toMatch(/network\s+a new VPC 10\.42\.0\.0\/16, public subnet 10\.42\.1\.0\/24/);
    expect(screen).toMatch(
      /SSH and web\s+tcp\/22 and tcp\/8080 from 198\.51\.100\.23\/32; Redis and MySQL only within the group/,
    );
    expect(screen).toMatch(/cost class\s+\$\$ \(about \$\d+\/month/);
    expect(screen).toMatch(/\+ create instance\s+t2\.large/);
    expect(screen).toMatch(/\+ create vpc\s+10\.42\.0\.0\/16/);
    s.send('Enter');
    await s.waitFor(/WIZARD-EXIT=0/);

    const written = parse(readFileSync(join(dir, 'wiz.stack.yaml'), 'utf8')) as Record<string, unknown>;
    expect(written).toEqual({
      name: 'wiz',
      profile: 'legacy',
      airflow: { admin: { username: 'admin', email: 'ops@example.com' } },
      aws: {
        region: 'us-east-1',
        instanceType: 't2.large',
        network: { mode: 'new', vpcCidr: '10.42.0.0/16', subnetCidr: '10.42.1.0/24' },
        allowedCidrs: ['198.51.100.23/32'],
        keyPair: { mode: 'create', name: 'updraft-wiz' },
        rootVolumeGiB: 30,
      },
    });
    // --no-up: nothing in AWS yet, and the file is a valid stack for `up`.
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    const clients = createAwsClients({ region: 'us-east-1', endpointUrl: moto.endpoint }, { env: {} });
    expect((await discoverStack(clients.ec2, 'wiz')).instances).toEqual([]);
    const dry = await runUpdraft(['up', '--stack', join(dir, 'wiz.stack.yaml'), '--dry-run', '--json'], {
      env: wizardEnv(),
    });
    expect(dry.code, dry.stderr).toBe(0);
  }, 240_000);

  it('Ctrl-C at a prompt leaves no file, no key and no AWS resource', async () => {
    const file = join(dir, 'cancelled.stack.yaml');
    const s = startWizard('cancel', `--stack-file '${file}'`);
    await answer(s, /Stack name/, { type: 'cancelled' }, 'Enter');
    await answer(s, /AWS region/, 'Enter');
    await answer(s, /Instance type/, 'Enter');
    await answer(s, /OS profile/, 'Enter');
    await answer(s, /Network/, 'Enter');
    await answer(s, /Who may reach SSH/, 'Enter');
    await answer(s, /SSH key pair/, 'Enter');
    await answer(s, /Key pair name in AWS/, 'C-c');
    const screen = await s.waitFor(/WIZARD-EXIT=\d+/);
    expect(screen).toContain('Setup cancelled: nothing was written and nothing was created.');
    expect(screen).toContain('WIZARD-EXIT=130');
    expect(existsSync(file)).toBe(false);
    expect(existsSync(join(dir, 'home', 'stacks', 'cancelled'))).toBe(false);
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    const clients = createAwsClients({ region: 'us-east-1', endpointUrl: moto.endpoint }, { env: {} });
    const found = await discoverStack(clients.ec2, 'cancelled');
    expect(Object.values(found).every((list) => list.length === 0)).toBe(true);
  }, 240_000);
});
