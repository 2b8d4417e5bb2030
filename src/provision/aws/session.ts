import { EC2Client, type ResourceType, type TagSpecification } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { InitializeMiddleware } from '@smithy/types';
import type { AwsSection } from './config.js';
import { markAwsError } from './errors.js';

/**
 * One conversation with AWS about one stack: the clients (with the error-explaining and, for
 * --dry-run, the read-only guard middleware), the stack's tags, and the list of changes made or,
 * in a dry run, that would be made.
 */
export const TAG_STACK = 'updraft:stack';
export const TAG_RESOURCE = 'updraft:resource';
/** On the instance, so `status --stack NAME` can print the URL and SSH command without the stack file. */
export const TAG_WEB_PORT = 'updraft:web-port';
export const TAG_SSH_USER = 'updraft:ssh-user';

export type ResourceKind =
  | 'ami'
  | 'vpc'
  | 'subnet'
  | 'internet-gateway'
  | 'route-table'
  | 'security-group'
  | 'key-pair'
  | 'local-key'
  | 'instance'
  | 'volume';

export interface Change {
  action: 'create' | 'update' | 'keep' | 'start' | 'delete' | 'use';
  resource: ResourceKind;
  /** The AWS id when known (always for keep/delete; after the call for create in a real run). */
  id?: string;
  detail: string;
}

export interface AwsClients {
  ec2: EC2Client;
  ssm: SSMClient;
}

/** Read-only calls: the only ones a dry run may send. */
export function isReadOnlyAction(commandName: string): boolean {
  return /^(Describe|Get|List)/.test(commandName);
}

export class DryRunViolation extends Error {}

export function createAwsClients(
  cfg: Pick<AwsSection, 'region' | 'profile' | 'endpointUrl'>,
  options: { env?: NodeJS.ProcessEnv; dryRun?: boolean } = {},
): AwsClients {
  const env = options.env ?? process.env;
  const common = {
    region: cfg.region,
    ...(cfg.profile ? { profile: cfg.profile } : {}),
    // Retries with backoff for throttling and 5xx; RunInstances stays safe through its ClientToken.
    maxAttempts: 5,
  };
  const ec2Endpoint = cfg.endpointUrl ?? env.AWS_ENDPOINT_URL_EC2 ?? env.AWS_ENDPOINT_URL;
  const ssmEndpoint = cfg.endpointUrl ?? env.AWS_ENDPOINT_URL_SSM ?? env.AWS_ENDPOINT_URL;
  const ec2 = new EC2Client({ ...common, ...(ec2Endpoint ? { endpoint: ec2Endpoint } : {}) });
  const ssm = new SSMClient({ ...common, ...(ssmEndpoint ? { endpoint: ssmEndpoint } : {}) });
  ec2.middlewareStack.add(explainMiddleware('ec2', cfg, options.dryRun ?? false), EXPLAIN_STEP);
  ssm.middlewareStack.add(explainMiddleware('ssm', cfg, options.dryRun ?? false), EXPLAIN_STEP);
  return { ec2, ssm };
}

const EXPLAIN_STEP = { step: 'initialize', name: 'updraftExplainErrors', priority: 'high' } as const;

/**
 * Every call's failure is marked with the action and its context, for explainAwsError at the top
 * (the raw SDK error travels on unchanged, so waiters' and retries' decisions on its name still
 * work). In a dry run, any call that is not a read is refused before it leaves the process.
 */
function explainMiddleware<Input extends object, Output extends object>(
  service: 'ec2' | 'ssm',
  cfg: Pick<AwsSection, 'region' | 'profile'>,
  dryRun: boolean,
): InitializeMiddleware<Input, Output> {
  return (next, context) => async (args) => {
    const commandName = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
    if (dryRun && !isReadOnlyAction(commandName)) {
      throw new DryRunViolation(`dry run: refusing to send ${service}:${commandName}`);
    }
    try {
      return await next(args);
    } catch (error) {
      const input = (args.input ?? {}) as {
        InstanceType?: string;
        KeyName?: string;
        Placement?: { AvailabilityZone?: string };
      };
      markAwsError(error, {
        action: `${service}:${commandName}`,
        region: cfg.region,
        ...(cfg.profile ? { profile: cfg.profile } : {}),
        ...(input.InstanceType ? { instanceType: input.InstanceType } : {}),
        ...(input.KeyName ? { keyName: input.KeyName } : {}),
        ...(input.Placement?.AvailabilityZone ? { availabilityZone: input.Placement.AvailabilityZone } : {}),
      });
      throw error;
    }
  };
}

export interface SessionOptions {
  dryRun?: boolean;
  log?: (message: string) => void;
  /** Waiter limits in seconds (tests shorten the poll delay). */
  waiter?: {
    minDelay?: number;
    runningMaxWait?: number;
    statusOkMaxWait?: number;
    terminatedMaxWait?: number;
  };
}

export class StackSession {
  readonly changes: Change[] = [];
  readonly dryRun: boolean;
  readonly log: (message: string) => void;

  constructor(
    readonly stack: string,
    readonly cfg: AwsSection,
    readonly clients: AwsClients,
    readonly options: SessionOptions = {},
  ) {
    this.dryRun = options.dryRun ?? false;
    this.log = options.log ?? (() => {});
  }

  get ec2(): EC2Client {
    return this.clients.ec2;
  }

  get ssm(): SSMClient {
    return this.clients.ssm;
  }

  /** Name tag: `updraft-<stack>` plus the resource kind, so the console lists them together. */
  resourceName(kind: ResourceKind): string {
    return kind === 'instance' ? `updraft-${this.stack}` : `updraft-${this.stack}-${kind}`;
  }

  tags(kind: ResourceKind, extra: Record<string, string> = {}): { Key: string; Value: string }[] {
    return [
      ...Object.entries({ ...this.cfg.tags, ...extra }).map(([Key, Value]) => ({ Key, Value })),
      { Key: TAG_STACK, Value: this.stack },
      { Key: TAG_RESOURCE, Value: kind },
      { Key: 'Name', Value: this.resourceName(kind) },
    ];
  }

  /** Tags applied by the create call itself, so nothing we make is ever untagged, even for a moment. */
  tagSpec(
    resourceType: ResourceType,
    kind: ResourceKind,
    extra?: Record<string, string>,
  ): TagSpecification[] {
    return [{ ResourceType: resourceType, Tags: this.tags(kind, extra) }];
  }

  note(change: Change): void {
    this.changes.push(change);
    if (change.action !== 'keep')
      this.log(`${change.action} ${change.resource}${change.id ? ` ${change.id}` : ''}: ${change.detail}`);
  }

  /**
   * A change: recorded, and made unless this is a dry run. Returns undefined in a dry run, so the
   * caller carries on with a placeholder and makes no call that needs the new resource.
   */
  async mutate<T>(
    change: Change,
    apply: () => Promise<T>,
    idOf?: (result: T) => string | undefined,
  ): Promise<T | undefined> {
    if (this.dryRun) {
      this.note(change);
      return undefined;
    }
    const result = await apply();
    const id = idOf?.(result);
    this.note(id ? { ...change, id } : change);
    return result;
  }
}
