import type { EC2Client } from '@aws-sdk/client-ec2';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAwsSection, type AwsSection } from '../../src/provision/aws/config.js';
import { createAwsClients, isReadOnlyAction, type AwsClients } from '../../src/provision/aws/session.js';
import type { MotoServer } from '../support/moto.js';

/** Shared by the EC2-layer tests: clients against a moto server, a call log and a crash switch. */
export interface Harness {
  clients: AwsClients;
  /** Every EC2/SSM command sent, in order, by name without `Command`. */
  calls: string[];
  /** Throw right after the n-th mutating call has succeeded (1-based); 0 = never. */
  crashAfterMutation(n: number): void;
  mutations(): string[];
}

export class InjectedCrash extends Error {}

/** moto takes any credentials; the SDK's default chain reads these (never real ones in tests). */
export function useDummyCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
}

export function harness(moto: MotoServer, cfg: AwsSection, dryRun = false): Harness {
  useDummyCredentials();
  const clients = createAwsClients({ ...cfg, endpointUrl: moto.endpoint }, { env: {}, dryRun });
  const calls: string[] = [];
  let crashAt = 0;
  let mutationCount = 0;
  const record = (client: EC2Client | AwsClients['ssm']) =>
    (client.middlewareStack as EC2Client['middlewareStack']).add(
      (next, context) => async (args) => {
        const name = String(context.commandName).replace(/Command$/, '');
        calls.push(name);
        const result = await next(args);
        if (!isReadOnlyAction(name)) {
          mutationCount++;
          if (crashAt > 0 && mutationCount === crashAt)
            throw new InjectedCrash(`crash after ${name} (#${mutationCount})`);
        }
        return result;
      },
      { step: 'initialize', name: 'testRecorder', priority: 'low' },
    );
  record(clients.ec2);
  record(clients.ssm);
  return {
    clients,
    calls,
    crashAfterMutation(n) {
      crashAt = n;
      mutationCount = 0;
    },
    mutations: () => calls.filter((c) => !isReadOnlyAction(c)),
  };
}

export function tempStacksDir(): string {
  return mkdtempSync(join(tmpdir(), 'updraft-stacks-'));
}

export function awsConfig(
  stack: string,
  toolHome: string,
  raw: Record<string, unknown> = {},
  context: { webPort?: number; profile?: 'current' | 'legacy' } = {},
): AwsSection {
  return parseAwsSection(
    { region: 'us-east-1', allowedCidrs: ['203.0.113.7/32'], ...raw },
    { name: stack, ...context, env: { UPDRAFT_HOME: toolHome, HOME: toolHome } },
  );
}

export const FAST_WAITS = {
  ...(process.env.DEBUG_AWS_TESTS ? { log: (m: string) => console.error(new Date().toISOString(), m) } : {}),
  waiter: { minDelay: 1, runningMaxWait: 60, statusOkMaxWait: 60, terminatedMaxWait: 60 },
};
