import { ValidationError } from '../../errors.js';
import { abortableSleep, type TaskContext } from '../../dag/execution.js';
import { awsConnectionSettings } from './connection.js';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Arguments every AWS operator and sensor takes (Airflow's aws_conn_id, region_name). */
export interface AwsArgs {
  /** Connection to use; default `aws_default`. `null`: no connection, the SDK's standard chain. */
  awsConnId?: string | null;
  /** Overrides the connection's region_name. */
  regionName?: string;
}

export const DEFAULT_AWS_CONN_ID = 'aws_default';

/** What every SDK v3 client constructor takes; credentials are never logged. */
export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  forcePathStyle?: boolean;
}

/** Resolved client settings plus what COPY statements need to name credentials. */
export interface ResolvedAws {
  config: AwsClientConfig;
  roleArn: string | undefined;
}

/**
 * Client settings for one AWS service from the task's connection. A missing `aws_default` means
 * the standard chain (as in Airflow); any other missing connection id is an error.
 */
export async function resolveAws(
  context: TaskContext,
  args: AwsArgs,
  service: 's3' | 'glue' | 'emr' | 'redshift_data',
): Promise<ResolvedAws> {
  const connId = args.awsConnId === undefined ? DEFAULT_AWS_CONN_ID : args.awsConnId;
  const conn = connId === null ? undefined : await context.services.getConnection(connId);
  if (connId !== null && !conn) {
    if (connId !== DEFAULT_AWS_CONN_ID) throw new ValidationError(`The conn_id '${connId}' isn't defined`);
    context.log.info(`No connection '${connId}': using the AWS SDK's standard credential chain`);
  } else if (conn) {
    context.log.info(`Using AWS connection '${conn.connId}'`);
  }
  const settings = awsConnectionSettings(conn);
  const own = settings.serviceConfig[service] ?? {};
  const endpoint = typeof own.endpoint_url === 'string' ? own.endpoint_url : settings.endpoint;
  const region = args.regionName ?? settings.region;
  let credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined = settings.credentials;
  if (settings.roleArn) {
    const sts = settings.serviceConfig.sts ?? {};
    const stsEndpoint = typeof sts.endpoint_url === 'string' ? sts.endpoint_url : settings.endpoint;
    const { fromTemporaryCredentials } = await import('@aws-sdk/credential-providers');
    credentials = fromTemporaryCredentials({
      params: {
        RoleSessionName: `Updraft_${connId ?? 'default'}`.replace(/[^\w+=,.@-]/g, '_').slice(0, 64),
        ...(settings.assumeRoleKwargs as object),
        RoleArn: settings.roleArn,
      },
      ...(settings.credentials ? { masterCredentials: settings.credentials } : {}),
      clientConfig: { ...(region ? { region } : {}), ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) },
    });
  }
  const config: AwsClientConfig = {};
  if (region) config.region = region;
  if (endpoint) config.endpoint = endpoint;
  if (credentials) config.credentials = credentials;
  // Emulators and S3-compatible stores on a custom endpoint answer path-style requests only.
  if (service === 's3' && endpoint && own.addressing_style !== 'virtual') config.forcePathStyle = true;
  return { config, roleArn: settings.roleArn };
}

/**
 * Read a remote state until `check` says done (returns the final value) or throws. Waits stop on
 * the task's signal, which executionTimeout and kills abort (callers' clients turn an aborted
 * read into the signal's reason with abortReason).
 */
export async function waitFor<T>(
  context: TaskContext,
  pollMs: number,
  read: () => Promise<T>,
  check: (value: T) => boolean,
): Promise<T> {
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    await abortableSleep(pollMs, context.signal);
  }
}

/**
 * An SDK call cut by the task's signal says "Request aborted"; the signal's reason (execution
 * timeout, kill) says why. Every operator's client calls go through this.
 */
export function abortReason(context: TaskContext, error: unknown): unknown {
  const reason: unknown = context.signal.reason;
  return context.signal.aborted && reason instanceof Error ? reason : error;
}

/** Text of an AWS SDK error (service exception name and message). */
export function awsErrorText(error: unknown): string {
  if (error instanceof Error)
    return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}
