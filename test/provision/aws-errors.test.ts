import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstancesCommand,
  DescribeInternetGatewaysCommand,
  DescribeKeyPairsCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2ServiceException,
  ImportKeyPairCommand,
  RunInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { isUpdraftError, type UpdraftError } from '../../src/errors.js';
import { createAwsClients } from '../../src/provision/aws/session.js';
import { upInfrastructure } from '../../src/provision/aws/stack-ops.js';
import { startMoto } from '../support/moto.js';
import { awsConfig, FAST_WAITS, useDummyCredentials } from './aws-support.js';

// moto's first answers (it loads its AMI catalogue) and child processes are slow on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

/**
 * The failures moto cannot produce (capacity, quotas, permissions, token reuse), through
 * aws-sdk-client-mock: each must come out as a typed error with a message that says what to do,
 * and a capacity failure in one zone must move on to the next.
 */
const home = mkdtempSync(join(tmpdir(), 'updraft-aws-errors-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function awsError(name: string, message = `${name} (from AWS)`): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

const INSTANCE = {
  InstanceId: 'i-0abc',
  State: { Name: 'running' as const, Code: 16 },
  InstanceType: 't2.large' as const,
  Placement: { AvailabilityZone: 'us-east-1b' },
  PublicIpAddress: '198.51.100.10',
  Tags: [{ Key: 'updraft:stack', Value: 'errs' }],
};

function mockedAws(options: { network?: 'default' | 'new' } = {}) {
  useDummyCredentials();
  const cfg = awsConfig('errs', home, options.network === 'new' ? { network: { mode: 'new' } } : {});
  const clients = createAwsClients(cfg, { env: {} });
  const ec2 = mockClient(clients.ec2);
  const ssm = mockClient(clients.ssm);
  let launched = false;
  const tagged = (input: { Filters?: { Name?: string }[] }) =>
    input.Filters?.some((f) => f.Name?.startsWith('tag:'));
  ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0123' } });
  ec2
    .on(DescribeImagesCommand)
    .resolves({ Images: [{ ImageId: 'ami-0123', RootDeviceName: '/dev/xvda', Name: 'al2023-ami' }] });
  ec2
    .on(DescribeVpcsCommand)
    .callsFake((input) =>
      tagged(input) ? { Vpcs: [] } : { Vpcs: [{ VpcId: 'vpc-default', IsDefault: true }] },
    );
  ec2.on(DescribeSubnetsCommand).callsFake((input) =>
    tagged(input)
      ? { Subnets: [] }
      : {
          Subnets: [
            { SubnetId: 'subnet-a', AvailabilityZone: 'us-east-1a', DefaultForAz: true },
            { SubnetId: 'subnet-b', AvailabilityZone: 'us-east-1b', DefaultForAz: true },
          ],
        },
  );
  ec2.on(DescribeInstanceTypeOfferingsCommand).resolves({
    InstanceTypeOfferings: [{ Location: 'us-east-1a' }, { Location: 'us-east-1b' }],
  });
  ec2.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [] });
  ec2.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] });
  ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
  ec2.on(DescribeKeyPairsCommand).resolves({ KeyPairs: [] });
  ec2.on(ImportKeyPairCommand).resolves({ KeyPairId: 'key-1', KeyName: 'updraft-errs' });
  ec2.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-1' });
  ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({});
  ec2
    .on(DescribeInstancesCommand)
    .callsFake((input) =>
      tagged(input) && !launched ? { Reservations: [] } : { Reservations: [{ Instances: [INSTANCE] }] },
    );
  ec2.on(DescribeInstanceStatusCommand).resolves({
    InstanceStatuses: [
      { InstanceId: 'i-0abc', InstanceStatus: { Status: 'ok' }, SystemStatus: { Status: 'ok' } },
    ],
  });
  return { cfg, clients, ec2, markLaunched: () => (launched = true) };
}

async function failure(promise: Promise<unknown>): Promise<UpdraftError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isUpdraftError(error), `expected an Updraft error, got ${String(error)}`).toBe(true);
  return error as UpdraftError;
}

describe('AWS failures moto cannot produce (aws-sdk-client-mock)', () => {
  beforeEach(() => useDummyCredentials());

  it('InsufficientInstanceCapacity in one zone: launches in the next zone of the default VPC', async () => {
    const m = mockedAws();
    m.ec2
      .on(RunInstancesCommand)
      .rejectsOnce(
        awsError('InsufficientInstanceCapacity', 'We currently do not have sufficient t2.large capacity'),
      )
      .callsFake(() => {
        m.markLaunched();
        return { Instances: [INSTANCE] };
      });
    const result = await upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS);
    const runs = m.ec2.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    expect(runs.map((r) => r.SubnetId)).toEqual(['subnet-a', 'subnet-b']);
    // Each launch carries a ClientToken; a different subnet is a different request, so a different token.
    expect(runs[0]?.ClientToken).toMatch(/^updraft-[0-9a-f]{40}-1$/);
    expect(runs[1]?.ClientToken).not.toBe(runs[0]?.ClientToken);
    expect(result.outputs).toMatchObject({ instanceId: 'i-0abc', availabilityZone: 'us-east-1b' });
  });

  it('InsufficientInstanceCapacity in every zone: says which zones were tried and what to do', async () => {
    const m = mockedAws();
    m.ec2.on(RunInstancesCommand).rejects(awsError('InsufficientInstanceCapacity'));
    const error = await failure(upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS));
    expect(error.message).toMatch(/no t2\.large capacity in any zone tried \(us-east-1a, us-east-1b\)/);
    expect(error.message).toMatch(/another instance type or retry later/);
    expect(EXIT_CODES[error.kind]).toBe(13);
  });

  it('VcpuLimitExceeded: points at the Service Quotas request, exit 13', async () => {
    const m = mockedAws();
    m.ec2.on(RunInstancesCommand).rejects(awsError('VcpuLimitExceeded'));
    const error = await failure(upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS));
    expect(error.message).toMatch(/exceed this account's vCPU quota in us-east-1/);
    expect(error.message).toMatch(/Service Quotas/);
    expect(EXIT_CODES[error.kind]).toBe(13);
    expect(m.ec2.commandCalls(RunInstancesCommand)).toHaveLength(1); // not retried in other zones
  });

  it('Unsupported instance type: suggests t3.large, exit 4', async () => {
    const m = mockedAws();
    m.ec2
      .on(RunInstancesCommand)
      .rejects(awsError('Unsupported', 'The requested configuration is currently not supported.'));
    const error = await failure(upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS));
    expect(error.message).toMatch(/t2\.large is not offered.*Use t3\.large/);
    expect(EXIT_CODES[error.kind]).toBe(4);
  });

  it('IdempotentParameterMismatch: a conflict that says how to get out of it, exit 6', async () => {
    const m = mockedAws();
    m.ec2.on(RunInstancesCommand).rejects(awsError('IdempotentParameterMismatch'));
    const error = await failure(upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS));
    expect(error.message).toMatch(/client token but other parameters.*updraft status/);
    expect(EXIT_CODES[error.kind]).toBe(6);
  });

  it('a key pair name taken between the check and the import: conflict naming the key, exit 6', async () => {
    const m = mockedAws();
    m.ec2
      .on(ImportKeyPairCommand)
      .rejects(awsError('InvalidKeyPair.Duplicate', "The keypair 'updraft-errs' already exists."));
    const error = await failure(upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS));
    expect(error.message).toMatch(/key pair named 'updraft-errs' already exists.*aws\.keyPair\.name/);
    expect(EXIT_CODES[error.kind]).toBe(6);
    expect(m.ec2.commandCalls(RunInstancesCommand)).toHaveLength(0);
  });

  it('a key pair of that name that the stack did not make: refused before any change', async () => {
    const m = mockedAws();
    m.ec2
      .on(DescribeKeyPairsCommand)
      .callsFake((input) =>
        input.Filters?.[0]?.Name === 'key-name'
          ? { KeyPairs: [{ KeyName: 'updraft-errs', KeyPairId: 'key-other' }] }
          : { KeyPairs: [] },
      );
    const error = await failure(upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS));
    expect(error.message).toMatch(/already exists in us-east-1 and this stack did not create it/);
    expect(m.ec2.commandCalls(ImportKeyPairCommand)).toHaveLength(0);
    expect(m.ec2.commandCalls(CreateSecurityGroupCommand)).toHaveLength(0);
  });

  it('VpcLimitExceeded: suggests the default VPC', async () => {
    const m = mockedAws({ network: 'new' });
    m.ec2.on(CreateVpcCommand).rejects(awsError('VpcLimitExceeded'));
    const error = await failure(upInfrastructure('errs', m.cfg, m.clients, FAST_WAITS));
    expect(error.message).toMatch(/as many VPCs as the account may have.*aws\.network\.mode: default/);
  });
});

describe('AWS failures through the real SDK pipeline', () => {
  it('a missing permission names the exact action, exit 8', async () => {
    // The real client (against moto); AWS's UnauthorizedOperation answer injected where the
    // response comes back, so the error travels the same middleware path as a real one.
    const moto = await startMoto();
    try {
      useDummyCredentials();
      const cfg = awsConfig('perm', home);
      const clients = createAwsClients({ ...cfg, endpointUrl: moto.endpoint }, { env: {} });
      (clients.ec2 as EC2Client).middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'CreateSecurityGroupCommand') {
            throw awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.');
          }
          return next(args);
        },
        { step: 'initialize', name: 'denyCreateSecurityGroup', priority: 'low' },
      );
      const error = await failure(upInfrastructure('perm', cfg, clients, FAST_WAITS));
      expect(error.message).toMatch(/not allowed to call ec2:CreateSecurityGroup in us-east-1/);
      expect(error.message).toMatch(/Add "ec2:CreateSecurityGroup" to its IAM policy/);
      expect(EXIT_CODES[error.kind]).toBe(8);
    } finally {
      await moto.stop();
    }
  }, 120_000);

  it('no credentials anywhere: says how to provide them, exit 7', async () => {
    const saved = { ...process.env };
    try {
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
        delete process.env[k];
      process.env.HOME = home;
      process.env.AWS_CONFIG_FILE = join(home, 'no-config');
      process.env.AWS_SHARED_CREDENTIALS_FILE = join(home, 'no-credentials');
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
      const cfg = awsConfig('creds', home, { profile: 'ops' });
      const clients = createAwsClients({ ...cfg, endpointUrl: 'http://127.0.0.1:9' }, { env: {} });
      const error = await failure(upInfrastructure('creds', cfg, clients, FAST_WAITS));
      expect(error.message).toMatch(/No AWS credentials found through profile 'ops'.*aws configure/);
      expect(EXIT_CODES[error.kind]).toBe(7);
    } finally {
      process.env = saved;
    }
  });
});
