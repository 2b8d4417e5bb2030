import { ValidationError } from '../../errors.js';
import type { ConnectionInfo } from '../../dag/execution.js';

/**
 * An Airflow `aws` connection read as the AWS SDK wants it. Field meanings follow Airflow's
 * Amazon provider: login / password are the access key id / secret access key (extra
 * `aws_access_key_id` / `aws_secret_access_key` are accepted too); extra holds `region_name`,
 * `role_arn` (+ `assume_role_kwargs`), `endpoint_url`, `aws_session_token` and
 * `service_config` (`{"s3": {"endpoint_url": …}}`). Anything left out falls through to the SDK's
 * standard credential and region chain (environment, shared config files, instance role).
 */
export interface AwsConnectionSettings {
  region: string | undefined;
  endpoint: string | undefined;
  /** Static keys when the connection has them; undefined → the standard chain. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  roleArn: string | undefined;
  /** Extra parameters of sts:AssumeRole (RoleSessionName, ExternalId, DurationSeconds…). */
  assumeRoleKwargs: Record<string, unknown>;
  /** Per-service overrides from extra.service_config (e.g. { s3: { endpoint_url } }). */
  serviceConfig: Record<string, Record<string, unknown>>;
}

function text(value: unknown, what: string, connId: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string')
    throw new ValidationError(`AWS connection '${connId}': extra.${what} must be a string`);
  return value;
}

function object(value: unknown, what: string, connId: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') {
    try {
      return object(JSON.parse(value), what, connId);
    } catch {
      throw new ValidationError(`AWS connection '${connId}': extra.${what} must be a JSON object`);
    }
  }
  if (typeof value !== 'object' || Array.isArray(value))
    throw new ValidationError(`AWS connection '${connId}': extra.${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** Settings from a connection; `undefined` (no such connection) means "the standard chain". */
export function awsConnectionSettings(conn: ConnectionInfo | undefined): AwsConnectionSettings {
  if (!conn) {
    return {
      region: undefined,
      endpoint: undefined,
      credentials: undefined,
      roleArn: undefined,
      assumeRoleKwargs: {},
      serviceConfig: {},
    };
  }
  const id = conn.connId;
  const extra = conn.extra ?? {};
  const accessKeyId = conn.login || text(extra.aws_access_key_id, 'aws_access_key_id', id);
  const secretAccessKey = conn.password || text(extra.aws_secret_access_key, 'aws_secret_access_key', id);
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey))
    throw new ValidationError(
      `AWS connection '${id}' has only one of the access key id (login) and the secret access key (password)`,
    );
  const sessionToken = text(extra.aws_session_token, 'aws_session_token', id);
  const serviceConfig: Record<string, Record<string, unknown>> = {};
  for (const [service, config] of Object.entries(object(extra.service_config, 'service_config', id)))
    serviceConfig[service] = object(config, `service_config.${service}`, id);
  return {
    region: text(extra.region_name, 'region_name', id),
    endpoint: text(extra.endpoint_url, 'endpoint_url', id),
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
        : undefined,
    roleArn: text(extra.role_arn, 'role_arn', id),
    assumeRoleKwargs: object(extra.assume_role_kwargs, 'assume_role_kwargs', id),
    serviceConfig,
  };
}
