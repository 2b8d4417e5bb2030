import {
  AuthenticationError,
  ConflictError,
  PermissionDeniedError,
  RemoteError,
  ValidationError,
  errorMessage,
  isUpdraftError,
  type UpdraftError,
} from '../../errors.js';

/**
 * AWS failures become typed Updraft errors with a message that says what to do. Each call site
 * names the API action (`ec2:RunInstances`), so a missing permission names the exact action to
 * add to the policy, and the CLI's one mapping (cli/exit-codes.ts) gives the exit code.
 */
export interface AwsCallContext {
  /** `ec2:RunInstances`, `ssm:GetParameter`. */
  action: string;
  region?: string;
  profile?: string;
  instanceType?: string;
  availabilityZone?: string;
  keyName?: string;
}

/** An AWS error, explained. `code` is the AWS error code, for scripts (--json) and retry decisions. */
export class AwsRemoteError extends RemoteError {
  constructor(
    message: string,
    readonly code: string,
    readonly action: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown };
  const code = e.Code ?? e.code ?? e.name;
  return typeof code === 'string' ? code : undefined;
}

const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'AuthFailure',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
]);

const PERMISSION_ERRORS = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'Client.UnauthorizedOperation',
]);

export function explainAwsError(error: unknown, ctx: AwsCallContext): UpdraftError {
  const code = awsErrorCode(error) ?? 'Unknown';
  const raw = errorMessage(error);
  const where = ctx.region ? ` in ${ctx.region}` : '';
  const profile = ctx.profile ? `profile '${ctx.profile}'` : 'the default credential chain';

  if (CREDENTIAL_ERRORS.has(code) || /Could not load credentials|credential/i.test(code)) {
    const what =
      code === 'CredentialsProviderError'
        ? `No AWS credentials found through ${profile}`
        : `AWS rejected the credentials from ${profile} (${code})`;
    return new AuthenticationError(
      `${what}. Run \`aws configure\` (or \`aws sso login --profile NAME\`), set AWS_PROFILE, or export ` +
        `AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; the stack file's aws.profile picks a profile.`,
      { cause: error },
    );
  }
  if (PERMISSION_ERRORS.has(code)) {
    return new PermissionDeniedError(
      `The AWS identity from ${profile} is not allowed to call ${ctx.action}${where}. Add "${ctx.action}" ` +
        `to its IAM policy (docs/deploy-to-aws.md has the whole policy document). AWS said: ${raw}`,
      { cause: error },
    );
  }
  const explained = explainCode(code, ctx, raw);
  if (explained) return explained(error);
  return new AwsRemoteError(`${ctx.action}${where} failed: ${code}: ${raw}`, code, ctx.action, {
    cause: error,
  });
}

type Build = (cause: unknown) => UpdraftError;

function explainCode(code: string, ctx: AwsCallContext, raw: string): Build | undefined {
  const type = ctx.instanceType ?? 'the instance type';
  const zone = ctx.availabilityZone ? ` in ${ctx.availabilityZone}` : '';
  const remote =
    (message: string): Build =>
    (cause) =>
      new AwsRemoteError(message, code, ctx.action, { cause });
  switch (code) {
    case 'InsufficientInstanceCapacity':
      return remote(
        `AWS has no ${type} capacity${zone} right now. Set aws.availabilityZone to another zone of ` +
          `${ctx.region ?? 'the region'} (the default VPC tries every zone by itself), pick another instance type, or retry later.`,
      );
    case 'Unsupported':
      return (cause) =>
        new ValidationError(
          `${type} is not offered${zone}${ctx.region ? ` (${ctx.region})` : ''}. Use t3.large (2 vCPU, 8 GiB) where t2 ` +
            `is not offered, or another zone. AWS said: ${raw}`,
          { cause },
        );
    case 'VcpuLimitExceeded':
      return remote(
        `Launching ${type} would exceed this account's vCPU quota${ctx.region ? ` in ${ctx.region}` : ''}. Ask for more ` +
          `in Service Quotas ("Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"), stop other ` +
          `instances, or choose a smaller type.`,
      );
    case 'VpcLimitExceeded':
      return remote(
        `The region${ctx.region ? ` ${ctx.region}` : ''} already has as many VPCs as the account may have (5 by default). ` +
          `Use the default VPC (aws.network.mode: default), delete an unused VPC, or ask for more in Service Quotas.`,
      );
    case 'InvalidKeyPair.Duplicate':
      return (cause) =>
        new ConflictError(
          `A key pair named '${ctx.keyName ?? '?'}' already exists${ctx.region ? ` in ${ctx.region}` : ''} and this stack did ` +
            `not create it. Set aws.keyPair.name to another name, or delete that key pair if it is unused.`,
          { cause },
        );
    case 'IdempotentParameterMismatch':
      return (cause) =>
        new ConflictError(
          `AWS has an earlier RunInstances request with this stack's client token but other parameters. ` +
            `Run \`updraft status\` to see what exists; if nothing does, change the stack file (any launch ` +
            `parameter) or wait a day for AWS to forget the token.`,
          { cause },
        );
    case 'InvalidGroup.Duplicate':
      return (cause) =>
        new ConflictError(
          `A security group with this stack's name already exists in the VPC and was not made by this stack ` +
            `(it has no updraft:stack tag). Delete it or use another stack name. AWS said: ${raw}`,
          { cause },
        );
    case 'InvalidAMIID.NotFound':
    case 'InvalidAMIID.Malformed':
      return (cause) =>
        new ValidationError(`The AMI is not available${ctx.region ? ` in ${ctx.region}` : ''}: ${raw}`, {
          cause,
        });
    case 'OptInRequired':
      return remote(`The account is not subscribed to EC2${ctx.region ? ` in ${ctx.region}` : ''}: ${raw}`);
    default:
      return undefined;
  }
}

const CONTEXT = Symbol('updraft.awsCallContext');

/** Remember which call failed (the clients' middleware does this for every call). */
export function markAwsError(error: unknown, ctx: AwsCallContext): void {
  if (typeof error === 'object' && error !== null && !(CONTEXT in error)) {
    Object.defineProperty(error, CONTEXT, { value: ctx, enumerable: false });
  }
}

/** An error from anywhere in an AWS operation, as the error to show: AWS ones explained, others as they are. */
export function explainError(error: unknown, fallback?: AwsCallContext): unknown {
  if (isUpdraftError(error)) return error;
  if (typeof error === 'object' && error !== null && CONTEXT in error) {
    return explainAwsError(error, (error as { [CONTEXT]: AwsCallContext })[CONTEXT]);
  }
  // An AWS service error that did not pass our middleware (a client made elsewhere).
  if (fallback && typeof error === 'object' && error !== null && '$metadata' in error) {
    return explainAwsError(error, fallback);
  }
  return error;
}

/** Run an AWS operation; whatever it throws comes out explained. */
export async function explained<T>(operation: () => Promise<T>, fallback?: AwsCallContext): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw explainError(error, fallback);
  }
}
