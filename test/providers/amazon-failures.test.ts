import { afterEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import {
  BatchStopJobRunCommand,
  GetCrawlerCommand,
  GetJobCommand,
  GetJobRunCommand,
  GlueClient,
  StartCrawlerCommand,
  StartJobRunCommand,
  UpdateCrawlerCommand,
} from '@aws-sdk/client-glue';
import { DescribeClusterCommand, DescribeStepCommand, EMRClient } from '@aws-sdk/client-emr';
import {
  BatchExecuteStatementCommand,
  DescribeStatementCommand,
  ExecuteStatementCommand,
  RedshiftDataClient,
} from '@aws-sdk/client-redshift-data';
import {
  EmrJobFlowSensor,
  EmrStepSensor,
  GlueCrawlerOperator,
  GlueJobOperator,
  S3ToRedshiftOperator,
} from '../../src/providers/amazon/index.js';
import type { ConnectionInfo } from '../../src/dag/execution.js';
import type { BaseOperator } from '../../src/dag/base-operator.js';
import { testContext } from '../support/dag-context.js';

// The failure states moto's server cannot produce (a FAILED Glue run or crawl, a FAILED EMR step
// with failure details, a cluster TERMINATED_WITH_ERRORS, a FAILED Redshift statement, the Data
// API's batch call), answered by aws-sdk-client-mock. Everything else is tested against moto in
// amazon-moto.test.ts.

const conn: ConnectionInfo = {
  connId: 'aws_default',
  connType: 'aws',
  host: null,
  schema: null,
  login: 'AKIDMOCK',
  password: 'mock-secret',
  port: null,
  extra: { region_name: 'eu-west-1' },
};

async function run(op: BaseOperator, signal?: AbortSignal) {
  const { context, logs } = testContext({
    taskId: op.taskId,
    signal,
    services: { getConnection: async () => conn },
  });
  try {
    return { value: await op.execute(context), logs, error: undefined as Error | undefined };
  } catch (error) {
    return { value: undefined, logs, error: error as Error };
  }
}

const glue = mockClient(GlueClient);
const emr = mockClient(EMRClient);
const redshift = mockClient(RedshiftDataClient);
afterEach(() => {
  glue.reset();
  emr.reset();
  redshift.reset();
});

describe('Glue failures', () => {
  it('a failed job run fails the task with Glue error message', async () => {
    glue.on(GetJobCommand).resolves({ Job: { Name: 'clean' } });
    glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_1' });
    glue
      .on(GetJobRunCommand)
      .resolvesOnce({ JobRun: { JobRunState: 'RUNNING' } })
      .resolves({ JobRun: { JobRunState: 'FAILED', ErrorMessage: 'NameError: name spark is not defined' } });
    const result = await run(
      new GlueJobOperator({ taskId: 'etl', jobName: 'clean', pollInterval: { milliseconds: 1 } }),
    );
    expect(result.error?.name).toBe('RemoteError');
    expect(result.error?.message).toBe(
      'Glue job clean run jr_1 ended FAILED: NameError: name spark is not defined',
    );
  });

  it('a killed wait stops the run when stopJobRunOnKill is set', async () => {
    glue.on(GetJobCommand).resolves({ Job: { Name: 'clean' } });
    glue.on(StartJobRunCommand).resolves({ JobRunId: 'jr_2' });
    glue.on(GetJobRunCommand).resolves({ JobRun: { JobRunState: 'RUNNING' } });
    glue.on(BatchStopJobRunCommand).resolves({});
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('Execution timeout')), 50);
    const result = await run(
      new GlueJobOperator({
        taskId: 'etl',
        jobName: 'clean',
        stopJobRunOnKill: true,
        pollInterval: { milliseconds: 5 },
      }),
      abort.signal,
    );
    expect(result.error?.message).toBe('Execution timeout');
    expect(glue.commandCalls(BatchStopJobRunCommand)[0]?.args[0].input).toEqual({
      JobName: 'clean',
      JobRunIds: ['jr_2'],
    });
  });

  it('a failed crawl fails the task with its error message; changed settings update the crawler', async () => {
    glue
      .on(GetCrawlerCommand)
      .resolvesOnce({ Crawler: { Name: 'raw', Role: 'old-role' } })
      .resolves({
        Crawler: {
          Name: 'raw',
          State: 'READY',
          LastCrawl: { Status: 'FAILED', ErrorMessage: 'Access denied to s3://landing' },
        },
      });
    glue.on(UpdateCrawlerCommand).resolves({});
    glue.on(StartCrawlerCommand).resolves({});
    const result = await run(
      new GlueCrawlerOperator({
        taskId: 'crawl',
        config: { Name: 'raw', Role: 'new-role' },
        pollInterval: { milliseconds: 1 },
      }),
    );
    expect(glue.commandCalls(UpdateCrawlerCommand)[0]?.args[0].input).toEqual({
      Name: 'raw',
      Role: 'new-role',
    });
    expect(result.error?.message).toBe('Glue crawler raw ended FAILED: Access denied to s3://landing');
  });
});

describe('EMR failures', () => {
  it('a failed step fails the sensor with its reason, message and log file', async () => {
    emr.on(DescribeStepCommand).resolves({
      Step: {
        Id: 's-1',
        Status: {
          State: 'FAILED',
          FailureDetails: {
            Reason: 'Unknown Error.',
            Message: 'Exception in thread main',
            LogFile: 's3://logs/j-1/steps/s-1/stderr.gz',
          },
        },
      },
    });
    const result = await run(new EmrStepSensor({ taskId: 'watch', jobFlowId: 'j-1', stepId: 's-1' }));
    expect(result.error?.message).toBe(
      'EMR step s-1 on j-1 FAILED for reason Unknown Error. with message Exception in thread main and log file s3://logs/j-1/steps/s-1/stderr.gz',
    );
  });

  it('a cluster that terminated with errors fails the job flow sensor with the state change reason', async () => {
    emr.on(DescribeClusterCommand).resolves({
      Cluster: {
        Id: 'j-1',
        Status: {
          State: 'TERMINATED_WITH_ERRORS',
          StateChangeReason: { Code: 'BOOTSTRAP_FAILURE', Message: 'bootstrap action 1 returned 1' },
        },
      },
    });
    const result = await run(new EmrJobFlowSensor({ taskId: 'flow', jobFlowId: 'j-1' }));
    expect(result.error?.message).toBe(
      'EMR job flow j-1 TERMINATED_WITH_ERRORS (BOOTSTRAP_FAILURE: bootstrap action 1 returned 1)',
    );
  });
});

describe('Redshift failures', () => {
  const op = (method: 'APPEND' | 'REPLACE') =>
    new S3ToRedshiftOperator({
      taskId: 'load',
      table: 'orders',
      s3Bucket: 'landing',
      s3Key: 'out/',
      method,
      redshiftDataApiKwargs: {
        database: 'dev',
        workgroupName: 'wg',
        secretArn: 'arn:secret',
        pollInterval: { milliseconds: 1 },
      },
    });

  it('a failed statement fails the task with the Redshift error', async () => {
    redshift.on(ExecuteStatementCommand).resolves({ Id: 'st-1' });
    redshift.on(DescribeStatementCommand).resolves({
      Id: 'st-1',
      Status: 'FAILED',
      Error: 'ERROR: S3ServiceException:The specified bucket does not exist',
    });
    const result = await run(op('APPEND'));
    expect(result.error?.message).toBe(
      'Redshift statement st-1 FAILED: ERROR: S3ServiceException:The specified bucket does not exist',
    );
    expect(JSON.stringify(result.logs)).not.toContain('mock-secret');
  });

  it('an error that quotes the COPY statement never carries the secret key', async () => {
    // Redshift and the Data API may quote the statement back ("syntax error at or near …").
    redshift
      .on(ExecuteStatementCommand)
      .callsFake((input: { Sql?: string }) => ({ Id: 'st-3', Sql: input.Sql }));
    redshift.on(DescribeStatementCommand).callsFake(() => ({
      Id: 'st-3',
      Status: 'FAILED',
      Error: `ERROR: syntax error at or near "${redshift.commandCalls(ExecuteStatementCommand)[0]?.args[0].input.Sql}"`,
    }));
    const failed = await run(op('APPEND'));
    expect(failed.error?.message).toContain("aws_secret_access_key=***'");
    expect(failed.error?.message).not.toContain('mock-secret');

    redshift.reset();
    redshift.on(ExecuteStatementCommand).callsFake((input: { Sql?: string }) => {
      throw Object.assign(new Error(`Invalid statement: ${input.Sql}`), { name: 'ValidationException' });
    });
    const refused = await run(op('APPEND'));
    expect(refused.error?.name).toBe('ValidationException');
    expect(refused.error?.message).toContain("aws_secret_access_key=***'");
    expect(`${refused.error?.message}${refused.error?.stack}`).not.toContain('mock-secret');
  });

  it('REPLACE runs its statements as one batch', async () => {
    redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-2' });
    redshift.on(DescribeStatementCommand).resolves({ Id: 'st-2', Status: 'FINISHED' });
    const result = await run(op('REPLACE'));
    expect(result.error).toBeUndefined();
    const input = redshift.commandCalls(BatchExecuteStatementCommand)[0]?.args[0].input;
    expect(input?.WorkgroupName).toBe('wg');
    expect(input?.SecretArn).toBe('arn:secret');
    expect(input?.Sqls?.[0]).toBe('BEGIN;');
    expect(input?.Sqls?.[1]).toBe('DELETE FROM orders;');
    expect(input?.Sqls?.[2]).toContain(
      "credentials 'aws_access_key_id=AKIDMOCK;aws_secret_access_key=mock-secret'",
    );
    expect(input?.Sqls?.[3]).toBe('COMMIT;');
  });
});
