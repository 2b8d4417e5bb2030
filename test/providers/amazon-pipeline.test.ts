import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetJobRunsCommand, GlueClient } from '@aws-sdk/client-glue';
import { DescribeClusterCommand, EMRClient, ListStepsCommand } from '@aws-sdk/client-emr';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import { createHarness, statesOf, type Harness } from '../scheduler/support/harness.js';
import { startMoto, type MotoServer } from '../support/moto.js';

// The bundled example_s3_glue_emr_redshift (and three small DAGs for the reschedule, failure and
// execution-timeout paths), run by the real scheduler and LocalExecutor (each
// task in its own process), against moto's server through AIRFLOW_CONN_AWS_DEFAULT. The
// launcher adds the completions moto lacks (EMR step, Redshift Data statement).

const EXAMPLE = fileURLToPath(
  new URL('../../src/examples/dags/example_s3_glue_emr_redshift.ts', import.meta.url),
);
const LAUNCHER = fileURLToPath(new URL('../support/moto_with_progress.py', import.meta.url));
const SECRET = 'pipeline-secret-never-logged';
const REGION = 'eu-west-1';
const BUCKET = 'updraft-example-data';

/** A sensor in reschedule mode, a cluster that ends instead of coming up, a crawl that never ends. */
const PATHS_DAGS = `import { DAG, EmrCreateJobFlowOperator, GlueCrawlerOperator, S3KeySensor } from 'updraft';
export const stuck = new DAG({ dagId: 'aws_crawl_timeout', schedule: null, startDate: '2024-01-01' }).build(() => {
  new GlueCrawlerOperator({
    taskId: 'crawl',
    config: { Name: 'stuck', Role: 'r', Targets: { S3Targets: [{ Path: 's3://${BUCKET}/' }] } },
    pollInterval: { milliseconds: 200 },
    executionTimeout: { seconds: 2 },
  });
});
export const late = new DAG({ dagId: 'aws_late_file', schedule: null, startDate: '2024-01-01' }).build(() => {
  new S3KeySensor({
    taskId: 'wait_for_late_file',
    bucketKey: 's3://${BUCKET}/late/{{ ds }}.csv',
    mode: 'reschedule',
    pokeInterval: { seconds: 1 },
  });
});
export const broken = new DAG({ dagId: 'aws_cluster_down', schedule: null, startDate: '2024-01-01' }).build(() => {
  new EmrCreateJobFlowOperator({
    taskId: 'create_job_flow',
    jobFlowOverrides: {
      Name: 'no-steps-no-keepalive',
      ReleaseLabel: 'emr-7.1.0',
      Instances: { InstanceCount: 1, MasterInstanceType: 'm5.xlarge', KeepJobFlowAliveWhenNoSteps: false },
      JobFlowRole: 'EMR_EC2_DefaultRole',
      ServiceRole: 'EMR_DefaultRole',
    },
    waitForCompletion: true,
    pollInterval: { seconds: 1 },
  });
});
`;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('AWS DAGs through the scheduler against moto', () => {
  let moto: MotoServer;
  let h: Harness;
  const client = () => ({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: { accessKeyId: 'AKIDPIPELINE', secretAccessKey: SECRET },
    forcePathStyle: true,
  });

  beforeAll(async () => {
    moto = await startMoto({ command: [LAUNCHER] });
    // A crawl finishes when read (moto's default keeps it RUNNING).
    const res = await fetch(`${moto.endpoint}/moto-api/state-manager/set-transition`, {
      method: 'POST',
      body: JSON.stringify({ model_name: 'glue::crawl', transition: { progression: 'immediate' } }),
    });
    expect(res.ok).toBe(true);
    const endpoint = encodeURIComponent(moto.endpoint);
    h = await createHarness('sqlite', {
      AIRFLOW_CONN_AWS_DEFAULT: `aws://AKIDPIPELINE:${SECRET}@/?region_name=${REGION}&endpoint_url=${endpoint}`,
    });
    await h.writeDag('example_s3_glue_emr_redshift.ts', await readFile(EXAMPLE, 'utf8'));
    await h.writeDag('aws_paths.ts', PATHS_DAGS);
    const s3 = new S3Client(client());
    await s3.send(
      new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }),
    );
    s3.destroy();
    await h.parse();
    h.startScheduler();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
    await moto?.stop();
  });

  it('waits for the data, crawls, runs the Glue job and the EMR step, terminates the cluster and loads Redshift', async () => {
    const s3 = new S3Client(client());
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 'raw/2024-06-01/orders.csv', Body: 'id,total\n1,2\n' }),
    );
    s3.destroy();

    const run = await triggerDagRun(await h.ctx.db(), 'example_s3_glue_emr_redshift', {
      logicalDate: Date.parse('2024-06-01T00:00:00Z'),
    });
    const done = await h.waitForRun('example_s3_glue_emr_redshift', run.run_id, 120_000);
    const tis = await h.tis('example_s3_glue_emr_redshift', run.run_id);
    // On failure, the task logs say why.
    const logText = async () =>
      (await Promise.all((await filesUnder(join(h.home, 'logs'))).map((f) => readFile(f, 'utf8')))).join(
        '\n',
      );
    expect(done.state, done.state === 'success' ? '' : await logText()).toBe('success');
    expect(statesOf(tis)).toEqual({
      wait_for_raw_data: 'success',
      crawl_raw_data: 'success',
      clean_raw_data: 'success',
      create_job_flow: 'success',
      add_steps: 'success',
      watch_step: 'success',
      terminate_job_flow: 'success',
      load_into_redshift: 'success',
    });

    const { kysely } = await h.ctx.db();
    const xcoms = await kysely
      .selectFrom('xcom')
      .select(['task_id', 'key', 'value'])
      .where('run_id', '=', run.run_id)
      .execute();
    const xcom = (task: string, key = 'return_value') => {
      const row = xcoms.find((x) => x.task_id === task && x.key === key);
      return row && (typeof row.value === 'string' ? JSON.parse(row.value) : row.value);
    };
    const clusterId = xcom('create_job_flow') as string;
    const stepIds = xcom('add_steps') as string[];
    const jobRunId = xcom('clean_raw_data') as string;
    expect(clusterId).toMatch(/^j-/);
    expect(stepIds).toHaveLength(1);
    expect(jobRunId).toMatch(/^jr_/);
    expect(xcom('crawl_raw_data')).toBe('updraft-example-raw');

    // The templated ids reached the downstream tasks.
    const rendered = JSON.parse(String(tis.watch_step!.rendered_fields)) as Record<string, unknown>;
    expect(rendered).toMatchObject({ jobFlowId: clusterId, stepId: stepIds[0] });

    const emr = new EMRClient(client());
    const cluster = (await emr.send(new DescribeClusterCommand({ ClusterId: clusterId }))).Cluster;
    const steps = (await emr.send(new ListStepsCommand({ ClusterId: clusterId }))).Steps;
    emr.destroy();
    expect(cluster?.Status?.State).toBe('TERMINATED');
    expect(steps?.map((s) => [s.Name, s.Status?.State])).toEqual([['aggregate_orders', 'COMPLETED']]);
    const glue = new GlueClient(client());
    const jobRuns = (await glue.send(new GetJobRunsCommand({ JobName: 'updraft-example-clean' }))).JobRuns;
    glue.destroy();
    expect(jobRuns?.[0]?.Arguments).toEqual({
      '--input': `s3://${BUCKET}/raw/2024-06-01/`,
      '--output': `s3://${BUCKET}/clean/2024-06-01/`,
    });

    // The secret reached AWS (in the COPY) but no log file and no rendered field.
    expect((await filesUnder(join(h.home, 'logs'))).length).toBeGreaterThanOrEqual(8);
    const allLogs = await logText();
    expect(allLogs).toContain("credentials '***'");
    expect(allLogs).not.toContain(SECRET);
    expect(JSON.stringify(Object.values(tis).map((t) => t.rendered_fields))).not.toContain(SECRET);
  }, 150_000);

  it('a reschedule-mode S3 sensor frees its slot until the file arrives', async () => {
    const run = await triggerDagRun(await h.ctx.db(), 'aws_late_file', {
      logicalDate: Date.parse('2024-06-02T00:00:00Z'),
    });
    const { kysely } = await h.ctx.db();
    const state = async () =>
      (
        await kysely
          .selectFrom('task_instance')
          .select('state')
          .where('dag_id', '=', 'aws_late_file')
          .where('run_id', '=', run.run_id)
          .executeTakeFirst()
      )?.state;
    const deadline = Date.now() + 60_000;
    while ((await state()) !== 'up_for_reschedule') {
      if (Date.now() > deadline) throw new Error(`sensor never rescheduled; state ${await state()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const s3 = new S3Client(client());
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'late/2024-06-02.csv', Body: 'x' }));
    s3.destroy();
    const done = await h.waitForRun('aws_late_file', run.run_id, 60_000);
    expect(done.state).toBe('success');
    const reschedules = await kysely
      .selectFrom('task_reschedule')
      .select('task_id')
      .where('dag_id', '=', 'aws_late_file')
      .execute();
    expect(reschedules.length).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('a cluster that terminates instead of starting fails the try, with the AWS state in its log', async () => {
    const run = await triggerDagRun(await h.ctx.db(), 'aws_cluster_down');
    const done = await h.waitForRun('aws_cluster_down', run.run_id, 60_000);
    expect(done.state).toBe('failed');
    const logs = await filesUnder(join(h.home, 'logs', 'dag_id=aws_cluster_down'));
    const text = (await Promise.all(logs.map((f) => readFile(f, 'utf8')))).join('\n');
    expect(text).toMatch(/EMR cluster j-\w+ did not start: TERMINATED/);
    expect(text).not.toContain(SECRET);
  }, 90_000);

  it('an execution timeout stops waiting for a crawl that never ends', async () => {
    // Make moto keep a started crawl RUNNING again (the first test made crawls finish at once).
    await fetch(`${moto.endpoint}/moto-api/state-manager/unset-transition`, {
      method: 'POST',
      body: JSON.stringify({ model_name: 'glue::crawl' }),
    });
    const run = await triggerDagRun(await h.ctx.db(), 'aws_crawl_timeout');
    const done = await h.waitForRun('aws_crawl_timeout', run.run_id, 60_000);
    expect(done.state).toBe('failed');
    const tis = await h.tis('aws_crawl_timeout', run.run_id);
    expect(tis.crawl!.state).toBe('failed');
    const logs = await filesUnder(join(h.home, 'logs', 'dag_id=aws_crawl_timeout'));
    const text = (await Promise.all(logs.map((f) => readFile(f, 'utf8')))).join('\n');
    expect(text).toContain('Waiting for AWS Glue Crawler stuck');
    expect(text).toContain('Task timed out after 2 seconds (executionTimeout)');
  }, 90_000);
});
