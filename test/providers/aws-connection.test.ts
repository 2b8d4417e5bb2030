import { describe, expect, it } from 'vitest';
import { connectionToUri, parseConnectionEnvValue, parseConnectionUri } from '../../src/connections/index.js';
import { awsConnectionSettings } from '../../src/providers/amazon/connection.js';
import type { ConnectionInfo } from '../../src/dag/execution.js';

/** The ConnectionInfo a task sees for stored fields (extra parsed), as the runner builds it. */
function info(fields: ReturnType<typeof parseConnectionUri>): ConnectionInfo {
  return {
    connId: fields.connId,
    connType: fields.connType,
    host: fields.host ?? null,
    schema: fields.schema ?? null,
    login: fields.login ?? null,
    password: fields.password ?? null,
    port: fields.port ?? null,
    extra: fields.extra ? (JSON.parse(fields.extra) as Record<string, unknown>) : {},
  };
}

describe('aws connections', () => {
  it("parse Airflow's host-less aws:// URI (keys as login/password, settings as query)", () => {
    const fields = parseConnectionUri(
      'aws_default',
      'aws://AKIAEXAMPLE:wJalr%2FK7MDENG%2BbPxRfiCY@/?region_name=eu-west-1&endpoint_url=http%3A%2F%2F127.0.0.1%3A5000',
    );
    expect(fields).toMatchObject({
      connType: 'aws',
      host: null,
      login: 'AKIAEXAMPLE',
      password: 'wJalr/K7MDENG+bPxRfiCY',
      extra: '{"region_name":"eu-west-1","endpoint_url":"http://127.0.0.1:5000"}',
    });
    // What `connections get` prints parses back to the same connection.
    expect(parseConnectionUri('aws_default', connectionToUri({ ...fields, connType: 'aws' }))).toEqual(
      fields,
    );
    expect(awsConnectionSettings(info(fields))).toMatchObject({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:5000',
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'wJalr/K7MDENG+bPxRfiCY' },
      roleArn: undefined,
    });
    expect(parseConnectionUri('x', 'aws://').host).toBeNull();
    expect(parseConnectionUri('x', 'http://u:p@example.com/').host).toBe('example.com');
  });

  it('read the JSON form: role_arn, assume_role_kwargs, session token, per-service endpoints', () => {
    const fields = parseConnectionEnvValue(
      'aws_default',
      JSON.stringify({
        conn_type: 'aws',
        extra: {
          aws_access_key_id: 'AKID',
          aws_secret_access_key: 'SECRET',
          aws_session_token: 'TOKEN',
          role_arn: 'arn:aws:iam::123456789012:role/etl',
          assume_role_kwargs: { ExternalId: 'ext' },
          service_config: { s3: { endpoint_url: 'http://minio:9000' } },
        },
      }),
    );
    expect(awsConnectionSettings(info(fields))).toEqual({
      region: undefined,
      endpoint: undefined,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' },
      roleArn: 'arn:aws:iam::123456789012:role/etl',
      assumeRoleKwargs: { ExternalId: 'ext' },
      serviceConfig: { s3: { endpoint_url: 'http://minio:9000' } },
    });
  });

  it('leave everything to the standard chain when there is no connection or it names nothing', () => {
    expect(awsConnectionSettings(undefined).credentials).toBeUndefined();
    expect(
      awsConnectionSettings(info(parseConnectionUri('aws_default', 'aws://'))).credentials,
    ).toBeUndefined();
  });

  it('refuse half a key pair and wrongly typed extras', () => {
    expect(() => awsConnectionSettings(info(parseConnectionUri('a', 'aws://AKID@/')))).toThrow(
      /only one of the access key id/,
    );
    expect(() =>
      awsConnectionSettings(
        info(parseConnectionEnvValue('a', '{"conn_type":"aws","extra":{"region_name":5}}')),
      ),
    ).toThrow(/extra.region_name must be a string/);
  });
});
