import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCrawlerCommand, GetJobCommand, GetJobRunCommand, GlueClient } from '@aws-sdk/client-glue';
import { DescribeClusterCommand, EMRClient, ListStepsCommand } from '@aws-sdk/client-emr';
import { DescribeStatementCommand, RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import {
  EmrAddStepsOperator,
  EmrCreateJobFlowOperator,
  EmrJobFlowSensor,
  EmrStepSensor,
  EmrTerminateJobFlowOperator,
  GlueCrawlerOperator,
  GlueJobOperator,
  S3KeySensor,
  S3ToRedshiftOperator,
} from '../../src/providers/amazon/index.js';
import { isReschedule, type ConnectionInfo } from '../../src/dag/execution.js';
import { renderTemplates } from '../../src/dag/templates.js';
import type { BaseOperator } from '../../src/dag/base-operator.js';
import { startMoto, type MotoServer } from '../support/moto.js';
import { MemoryXCom, testContext } from '../support/dag-context.js';

// Every operator against moto's server (a real AWS API emulator over HTTP), through an
// aws_default connection that points at it. The launcher adds the two completions moto lacks
// (an EMR step and a Redshift Data statement finish on their second describe).

const LAUNCHER = fileURLToPath(new URL('../support/moto_with_progress.py', import.meta.url));
const SECRET = 'moto-secret-key-do-not-log';

let moto: MotoServer;
let conn: ConnectionInfo;
const clientConfig = () => ({
  endpoint: moto.endpoint,
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIDMOTO', secretAccessKey: SECRET },
  forcePathStyle: true,
});

/** Render and run one task the way the runner does, with the moto connection. */
async function run(
  op: BaseOperator,
  opts: { xcom?: MemoryXCom; signal?: AbortSignal; connections?: ConnectionInfo[] } = {},
) {
  const connections = opts.connections ?? [conn];
  const { context, logs, xcom } = testContext({
    taskId: op.taskId,
    xcom: opts.xcom,
    signal: opts.signal,
    services: { getConnection: async (id) => connections.find((c) => c.connId === id) },
  });
  const rendered = await renderTemplates(op, context);
  try {
    const value = await op.execute(context);
    if (value !== undefined) await xcom.forTask(op.taskId).push('return_value', value);
    return { value, logs, rendered, error: undefined as Error | undefined };
  } catch (error) {
    return { value: undefined, logs, rendered, error: error as Error };
  }
}

async function setTransition(model: string, transition: Record<string, unknown>) {
  const res = await fetch(`${moto.endpoint}/moto-api/state-manager/set-transition`, {
    method: 'POST',
    body: JSON.stringify({ model_name: model, transition }),
  });
  expect(res.ok).toBe(true);
}
async function unsetTransition(model: string) {
  await fetch(`${moto.endpoint}/moto-api/state-manager/unset-transition`, {
    method: 'POST',
    body: JSON.stringify({ model_name: model }),
  });
}

beforeAll(async () => {
  moto = await startMoto({ command: [LAUNCHER] });
  conn = {
    connId: 'aws_default',
    connType: 'aws',
    host: null,
    schema: null,
    login: 'AKIDMOTO',
    password: SECRET,
    port: null,
    extra: { region_name: 'eu-west-1', endpoint_url: moto.endpoint },
  };
  const s3 = new S3Client(clientConfig());
  await s3.send(
    new CreateBucketCommand({
      Bucket: 'landing',
      CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
    }),
  );
  s3.destroy();
});
afterAll(async () => moto?.stop());

describe('S3KeySensor', () => {
  const put = async (key: string, body: string) => {
    const s3 = new S3Client(clientConfig());
    await s3.send(new PutObjectCommand({ Bucket: 'landing', Key: key, Body: body }));
    s3.destroy();
  };

  it('is not done while the key is missing, and done once it exists', async () => {
    const sensor = new S3KeySensor({ taskId: 's', bucketName: 'landing', bucketKey: 'in/{{ ds }}/a.csv' });
    const { context, logs } = testContext({ services: { getConnection: async () => conn } });
    await renderTemplates(sensor, context);
    expect(sensor.bucketKey).toBe('in/2024-03-05/a.csv');
    expect(await sensor.poke(context)).toBe(false);
    await put('in/2024-03-05/a.csv', 'x');
    expect(await sensor.poke(context)).toBe(true);
    expect(logs).toContain('Poking for key : s3://landing/in/2024-03-05/a.csv');
  });

  it('matches wildcards like fnmatch and hands the matches to checkFn', async () => {
    await put('wild/2024/part-1.csv', '12345');
    await put('wild/2024/part-22.csv', '1');
    const seen: unknown[] = [];
    const sensor = new S3KeySensor({
      taskId: 's',
      bucketKey: 's3://landing/wild/*/part-?.csv',
      wildcardMatch: true,
      checkFn: (objects) => {
        seen.push(...objects);
        return objects.every((o) => o.size > 3);
      },
    });
    const { context } = testContext({ services: { getConnection: async () => conn } });
    expect(await sensor.poke(context)).toBe(true);
    expect(seen).toEqual([{ key: 'wild/2024/part-1.csv', size: 5 }]);
    const none = new S3KeySensor({
      taskId: 's',
      bucketName: 'landing',
      bucketKey: 'wild/*.json',
      wildcardMatch: true,
    });
    expect(await none.poke(context)).toBe(false);
  });

  it('waits for every key of a list', async () => {
    await put('list/one', '1');
    const sensor = new S3KeySensor({
      taskId: 's',
      bucketName: 'landing',
      bucketKey: ['list/one', 'list/two'],
    });
    const { context } = testContext({ services: { getConnection: async () => conn } });
    expect(await sensor.poke(context)).toBe(false);
    await put('list/two', '2');
    expect(await sensor.poke(context)).toBe(true);
  });

  it('in reschedule mode frees the slot until the next poke; in poke mode times out', async () => {
    const rescheduled = await run(
      new S3KeySensor({ taskId: 's', bucketName: 'landing', bucketKey: 'never', mode: 'reschedule' }),
    );
    expect(isReschedule(rescheduled.error)).toBe(true);
    const timedOut = await run(
      new S3KeySensor({
        taskId: 's',
        bucketName: 'landing',
        bucketKey: 'never',
        pokeInterval: { milliseconds: 50 },
        timeout: { milliseconds: 200 },
      }),
    );
    expect(timedOut.error?.name).toBe('SensorTimeout');
  });

  it('rejects a full URL together with bucketName, and a missing connection other than aws_default', async () => {
    const both = await run(
      new S3KeySensor({ taskId: 's', bucketName: 'landing', bucketKey: 's3://landing/x' }),
    );
    expect(both.error?.message).toMatch(/must be a key relative to it/);
    const missing = await run(
      new S3KeySensor({ taskId: 's', bucketName: 'landing', bucketKey: 'x', awsConnId: 'nope' }),
    );
    expect(missing.error?.message).toBe("The conn_id 'nope' isn't defined");
  });
});

describe('Glue', () => {
  it('GlueCrawlerOperator creates, starts and waits for the crawler, then updates it on the next run', async () => {
    await setTransition('glue::crawl', { progression: 'immediate' });
    try {
      const op = () =>
        new GlueCrawlerOperator({
          taskId: 'crawl',
          config: {
            Name: 'raw-{{ ds_nodash }}',
            Role: 'glue-role',
            DatabaseName: 'db',
            Targets: { S3Targets: [{ Path: 's3://landing/in/' }] },
          },
          pollInterval: { milliseconds: 50 },
        });
      const first = await run(op());
      expect(first.error).toBeUndefined();
      expect(first.value).toBe('raw-20240305');
      expect(first.logs).toContain('Creating crawler raw-20240305');
      const second = await run(op());
      expect(second.error).toBeUndefined();
      expect(second.logs).toContain('Crawler raw-20240305 is up to date');
      expect(second.logs).toContain('Crawler raw-20240305 finished: COMPLETED');
      const glue = new GlueClient(clientConfig());
      const crawler = (await glue.send(new GetCrawlerCommand({ Name: 'raw-20240305' }))).Crawler;
      glue.destroy();
      expect(crawler?.LastCrawl?.Status).toBe('COMPLETED');
      expect(crawler?.Targets?.S3Targets?.[0]?.Path).toBe('s3://landing/in/');
    } finally {
      await unsetTransition('glue::crawl');
    }
  });

  it('stops waiting for a crawl that never ends when the execution timeout aborts the try', async () => {
    // Out of the box moto keeps a started crawl RUNNING.
    const abort = new AbortController();
    const op = new GlueCrawlerOperator({
      taskId: 'crawl',
      config: { Name: 'forever', Role: 'r', Targets: { S3Targets: [{ Path: 's3://landing/' }] } },
      pollInterval: { milliseconds: 50 },
    });
    setTimeout(() => abort.abort(new Error('Execution timeout')), 300);
    const result = await run(op, { signal: abort.signal });
    expect(result.error?.message).toBe('Execution timeout');
  });

  it('a try aborted outside the wait fails with the abort reason, not the SDK "Request aborted"', async () => {
    // Aborted before the first call: the SDK refuses it; the task must still say why it stopped.
    const abort = new AbortController();
    abort.abort(new Error('Execution timeout'));
    const op = new GlueCrawlerOperator({
      taskId: 'crawl',
      config: { Name: 'never-started', Role: 'r', Targets: { S3Targets: [{ Path: 's3://landing/' }] } },
    });
    const result = await run(op, { signal: abort.signal });
    expect(result.error?.message).toBe('Execution timeout');
  });

  it('GlueJobOperator creates the job, starts a run with its arguments and waits through its states', async () => {
    await setTransition('glue::job_run', { progression: 'manual', times: 2 });
    try {
      const op = new GlueJobOperator({
        taskId: 'etl',
        jobName: 'clean',
        scriptLocation: 's3://landing/scripts/clean.py',
        iamRoleName: 'glue-role',
        createJobKwargs: { GlueVersion: '4.0', WorkerType: 'G.1X', NumberOfWorkers: 2 },
        scriptArgs: { '--day': '{{ ds }}' },
        pollInterval: { milliseconds: 20 },
      });
      const result = await run(op);
      expect(result.error).toBeUndefined();
      const runId = result.value as string;
      expect(runId).toMatch(/^jr_/);
      expect(result.logs.filter((l) => l.startsWith('Glue job clean run'))).toEqual([
        `Glue job clean run ${runId}: STARTING`,
        `Glue job clean run ${runId}: RUNNING`,
        `Glue job clean run ${runId}: SUCCEEDED`,
      ]);
      const glue = new GlueClient(clientConfig());
      const job = (await glue.send(new GetJobCommand({ JobName: 'clean' }))).Job;
      const jobRun = (await glue.send(new GetJobRunCommand({ JobName: 'clean', RunId: runId }))).JobRun;
      glue.destroy();
      expect(job?.Command?.ScriptLocation).toBe('s3://landing/scripts/clean.py');
      expect(job?.Role).toBe('glue-role');
      expect(jobRun?.Arguments).toEqual({ '--day': '2024-03-05' });
    } finally {
      await unsetTransition('glue::job_run');
    }
  });

  it('GlueJobOperator says what is missing to create a job', async () => {
    const result = await run(new GlueJobOperator({ taskId: 'etl', jobName: 'absent', iamRoleName: 'r' }));
    expect(result.error?.message).toMatch(/scriptLocation is required to create Glue job 'absent'/);
  });
});

describe('EMR', () => {
  const overrides = (keepAlive: boolean) => ({
    Name: 'cluster-{{ ds_nodash }}',
    ReleaseLabel: 'emr-7.1.0',
    Instances: { InstanceCount: 1, MasterInstanceType: 'm5.xlarge', KeepJobFlowAliveWhenNoSteps: keepAlive },
    JobFlowRole: 'EMR_EC2_DefaultRole',
    ServiceRole: 'EMR_DefaultRole',
  });

  it('creates a cluster, adds steps, senses the step, terminates, with ids chained through XCom templates', async () => {
    const xcom = new MemoryXCom();
    const create = await run(
      new EmrCreateJobFlowOperator({
        taskId: 'create_job_flow',
        jobFlowOverrides: overrides(true),
        waitForCompletion: true,
        pollInterval: { milliseconds: 20 },
      }),
      { xcom },
    );
    expect(create.error).toBeUndefined();
    const clusterId = create.value as string;
    expect(clusterId).toMatch(/^j-/);
    const add = await run(
      new EmrAddStepsOperator({
        taskId: 'add_steps',
        jobFlowId: "{{ ti.xcomPull('create_job_flow') }}",
        steps: [
          {
            Name: 'spark {{ ds }}',
            ActionOnFailure: 'CONTINUE',
            HadoopJarStep: { Jar: 'command-runner.jar', Args: ['spark-submit', 's3://landing/x.py'] },
          },
        ],
      }),
      { xcom },
    );
    expect(add.error).toBeUndefined();
    expect(add.rendered.jobFlowId).toBe(clusterId);
    const stepIds = add.value as string[];
    expect(stepIds).toHaveLength(1);

    const sensor = new EmrStepSensor({
      taskId: 'watch_step',
      jobFlowId: "{{ ti.xcomPull('create_job_flow') }}",
      stepId: "{{ ti.xcomPull('add_steps')[0] }}",
    });
    const { context } = testContext({
      taskId: 'watch_step',
      xcom,
      services: { getConnection: async () => conn },
    });
    await renderTemplates(sensor, context);
    expect(sensor.stepId).toBe(stepIds[0]);
    expect(await sensor.poke(context)).toBe(false); // RUNNING
    expect(await sensor.poke(context)).toBe(true); // COMPLETED

    const emr = new EMRClient(clientConfig());
    const steps = (await emr.send(new ListStepsCommand({ ClusterId: clusterId }))).Steps;
    expect(steps?.[0]?.Name).toBe('spark 2024-03-05');

    const terminate = await run(
      new EmrTerminateJobFlowOperator({
        taskId: 'terminate',
        jobFlowId: clusterId,
        waitForCompletion: true,
        pollInterval: { milliseconds: 20 },
      }),
    );
    expect(terminate.error).toBeUndefined();
    expect(
      (await emr.send(new DescribeClusterCommand({ ClusterId: clusterId }))).Cluster?.Status?.State,
    ).toBe('TERMINATED');
    emr.destroy();
    const flowSensor = new EmrJobFlowSensor({ taskId: 'flow', jobFlowId: clusterId });
    expect(
      await flowSensor.poke(testContext({ services: { getConnection: async () => conn } }).context),
    ).toBe(true);
  });

  it('adds steps to a cluster found by name, waiting for them', async () => {
    const create = await run(
      new EmrCreateJobFlowOperator({
        taskId: 'c',
        jobFlowOverrides: { ...overrides(true), Name: 'by-name' },
      }),
    );
    const add = await run(
      new EmrAddStepsOperator({
        taskId: 'add',
        jobFlowName: 'by-name',
        steps: [
          { Name: 'one', HadoopJarStep: { Jar: 'command-runner.jar', Args: ['true'] } },
          { Name: 'two', HadoopJarStep: { Jar: 'command-runner.jar', Args: ['true'] } },
        ],
        waitForCompletion: true,
        pollInterval: { milliseconds: 20 },
      }),
    );
    expect(add.error).toBeUndefined();
    const emr = new EMRClient(clientConfig());
    const states = (await emr.send(new ListStepsCommand({ ClusterId: create.value as string }))).Steps?.map(
      (s) => s.Status?.State,
    );
    emr.destroy();
    expect(states).toEqual(['COMPLETED', 'COMPLETED']);
    const missing = await run(new EmrAddStepsOperator({ taskId: 'add', jobFlowName: 'no-such', steps: [] }));
    expect(missing.error?.message).toMatch(/No cluster named 'no-such' in states RUNNING, WAITING/);
  });

  it('fails the create task when the cluster ends instead of coming up', async () => {
    // Without steps and without KeepJobFlowAliveWhenNoSteps, moto's cluster goes straight to TERMINATED.
    const result = await run(
      new EmrCreateJobFlowOperator({
        taskId: 'c',
        jobFlowOverrides: overrides(false),
        waitForCompletion: true,
        pollInterval: { milliseconds: 20 },
      }),
    );
    expect(result.error?.message).toMatch(/^EMR cluster j-\w+ did not start: TERMINATED/);
  });

  it('merges the emr_default connection extra under the overrides', async () => {
    const emrConn: ConnectionInfo = {
      ...conn,
      connId: 'emr_default',
      connType: 'emr',
      login: null,
      password: null,
      extra: { ...overrides(true), Tags: [{ Key: 'team', Value: 'data' }] },
    };
    const result = await run(
      new EmrCreateJobFlowOperator({ taskId: 'c', jobFlowOverrides: { Name: 'merged' } }),
      { connections: [conn, emrConn] },
    );
    expect(result.error).toBeUndefined();
    const emr = new EMRClient(clientConfig());
    const cluster = (await emr.send(new DescribeClusterCommand({ ClusterId: result.value as string })))
      .Cluster;
    emr.destroy();
    expect(cluster?.Name).toBe('merged');
    expect(cluster?.Tags).toEqual([{ Key: 'team', Value: 'data' }]);
  });
});

describe('S3ToRedshiftOperator', () => {
  const op = (extra: Record<string, unknown> = {}) =>
    new S3ToRedshiftOperator({
      taskId: 'load',
      schema: 'public',
      table: 'orders',
      s3Bucket: 'landing',
      s3Key: 'out/{{ ds }}/',
      columnList: ['id', 'total'],
      copyOptions: ['CSV', 'IGNOREHEADER 1'],
      redshiftDataApiKwargs: {
        database: 'dev',
        clusterIdentifier: 'warehouse',
        dbUser: 'awsuser',
        pollInterval: { milliseconds: 20 },
      },
      ...extra,
    });

  it('runs COPY through the Data API with the connection keys, never showing the secret', async () => {
    const result = await run(op());
    expect(result.error).toBeUndefined();
    const rsd = new RedshiftDataClient(clientConfig());
    const statement = await rsd.send(new DescribeStatementCommand({ Id: result.value as string }));
    rsd.destroy();
    expect(statement.Status).toBe('FINISHED');
    expect(statement.QueryString).toBe(
      [
        'COPY public.orders (id, total)',
        "FROM 's3://landing/out/2024-03-05/'",
        `credentials 'aws_access_key_id=AKIDMOTO;aws_secret_access_key=${SECRET}'`,
        'CSV',
        'IGNOREHEADER 1;',
      ].join('\n'),
    );
    expect(statement.ClusterIdentifier).toBe('warehouse');
    expect(statement.DbUser).toBe('awsuser');
    const everything = JSON.stringify([result.logs, result.rendered]);
    expect(everything).toContain("credentials '***'");
    expect(everything).not.toContain(SECRET);
  });

  it('names the role of a role_arn connection, assuming it for the Data API calls', async () => {
    const roleConn: ConnectionInfo = {
      ...conn,
      extra: { ...conn.extra, role_arn: 'arn:aws:iam::123456789012:role/redshift-copy' },
    };
    const result = await run(op(), { connections: [roleConn] });
    expect(result.error).toBeUndefined();
    const rsd = new RedshiftDataClient(clientConfig());
    const statement = await rsd.send(new DescribeStatementCommand({ Id: result.value as string }));
    rsd.destroy();
    expect(statement.QueryString).toContain(
      "credentials 'aws_iam_role=arn:aws:iam::123456789012:role/redshift-copy'",
    );
    expect(statement.QueryString).not.toContain(SECRET);
  });

  it('builds the REPLACE and UPSERT statements', () => {
    expect(op({ method: 'REPLACE' }).buildSql('C')).toEqual([
      'BEGIN;',
      'DELETE FROM public.orders;',
      "COPY public.orders (id, total)\nFROM 's3://landing/out/{{ ds }}/'\ncredentials 'C'\nCSV\nIGNOREHEADER 1;",
      'COMMIT;',
    ]);
    const upsert = op({ method: 'UPSERT', upsertKeys: ['id'] }).buildSql('C');
    expect(upsert[0]).toBe('CREATE TABLE #orders (LIKE public.orders INCLUDING DEFAULTS);');
    expect(upsert[1]).toMatch(/^COPY #orders \(id, total\)/);
    expect(upsert[3]).toBe('DELETE FROM public.orders USING #orders WHERE orders.id = #orders.id;');
    expect(upsert[4]).toBe('INSERT INTO public.orders SELECT * FROM #orders;');
    expect(() => op({ method: 'UPSERT' })).toThrow(/UPSERT needs upsertKeys/);
    expect(() => op({ redshiftDataApiKwargs: { database: 'dev' } })).toThrow(
      /exactly one of clusterIdentifier and workgroupName/,
    );
  });
});
