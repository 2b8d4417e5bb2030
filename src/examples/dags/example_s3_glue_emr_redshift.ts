/**
 * The AWS data pipeline: wait for the day's raw files in S3, catalogue them with a Glue crawler,
 * clean them with a Glue job, aggregate them with a Spark step on a short-lived EMR cluster, and
 * load the result into Redshift. Uses the `aws_default` connection (or the SDK's standard
 * credential chain when it does not exist); needs real AWS resources or an emulator, so it has no
 * schedule.
 */
import {
  DAG,
  EmrAddStepsOperator,
  EmrCreateJobFlowOperator,
  EmrStepSensor,
  EmrTerminateJobFlowOperator,
  GlueCrawlerOperator,
  GlueJobOperator,
  S3KeySensor,
  S3ToRedshiftOperator,
  TriggerRule,
} from 'updraft';

const JOB_FLOW_OVERRIDES = {
  Name: 'updraft-example-{{ ds_nodash }}',
  ReleaseLabel: 'emr-7.1.0',
  Applications: [{ Name: 'Spark' }],
  LogUri: 's3://{{ params.bucket }}/emr-logs/',
  Instances: {
    InstanceGroups: [
      {
        Name: 'Primary node',
        Market: 'ON_DEMAND',
        InstanceRole: 'MASTER',
        InstanceType: 'm5.xlarge',
        InstanceCount: 1,
      },
      {
        Name: 'Core nodes',
        Market: 'ON_DEMAND',
        InstanceRole: 'CORE',
        InstanceType: 'm5.xlarge',
        InstanceCount: 2,
      },
    ],
    KeepJobFlowAliveWhenNoSteps: true,
    TerminationProtected: false,
  },
  JobFlowRole: 'EMR_EC2_DefaultRole',
  ServiceRole: 'EMR_DefaultRole',
};

const SPARK_STEPS = [
  {
    Name: 'aggregate_orders',
    ActionOnFailure: 'CONTINUE',
    HadoopJarStep: {
      Jar: 'command-runner.jar',
      Args: [
        'spark-submit',
        '--deploy-mode',
        'cluster',
        's3://{{ params.bucket }}/scripts/aggregate_orders.py',
        '--input',
        's3://{{ params.bucket }}/clean/{{ ds }}/',
        '--output',
        's3://{{ params.bucket }}/aggregated/{{ ds }}/',
      ],
    },
  },
];

export const dag = new DAG({
  dagId: 'example_s3_glue_emr_redshift',
  schedule: null,
  startDate: '2024-01-01',
  catchup: false,
  tags: ['example', 'aws'],
  params: {
    bucket: 'updraft-example-data',
    glueRole: 'AWSGlueServiceRole-updraft',
    redshiftCluster: 'updraft-example',
    redshiftDatabase: 'dev',
    redshiftUser: 'awsuser',
  },
}).build(() => {
  const waitForRawData = new S3KeySensor({
    taskId: 'wait_for_raw_data',
    bucketName: '{{ params.bucket }}',
    bucketKey: 'raw/{{ ds }}/*.csv',
    wildcardMatch: true,
    mode: 'reschedule',
    pokeInterval: { minutes: 1 },
    timeout: { hours: 6 },
  });

  const crawlRawData = new GlueCrawlerOperator({
    taskId: 'crawl_raw_data',
    config: {
      Name: 'updraft-example-raw',
      Role: '{{ params.glueRole }}',
      DatabaseName: 'updraft_example',
      Targets: { S3Targets: [{ Path: 's3://{{ params.bucket }}/raw/' }] },
    },
  });

  const cleanRawData = new GlueJobOperator({
    taskId: 'clean_raw_data',
    jobName: 'updraft-example-clean',
    scriptLocation: 's3://{{ params.bucket }}/scripts/clean_orders.py',
    iamRoleName: '{{ params.glueRole }}',
    createJobKwargs: { GlueVersion: '4.0', WorkerType: 'G.1X', NumberOfWorkers: 2 },
    scriptArgs: {
      '--input': 's3://{{ params.bucket }}/raw/{{ ds }}/',
      '--output': 's3://{{ params.bucket }}/clean/{{ ds }}/',
    },
    executionTimeout: { hours: 2 },
  });

  const createJobFlow = new EmrCreateJobFlowOperator({
    taskId: 'create_job_flow',
    jobFlowOverrides: JOB_FLOW_OVERRIDES,
  });

  const addSteps = new EmrAddStepsOperator({
    taskId: 'add_steps',
    jobFlowId: "{{ ti.xcomPull('create_job_flow') }}",
    steps: SPARK_STEPS,
  });

  const watchStep = new EmrStepSensor({
    taskId: 'watch_step',
    jobFlowId: "{{ ti.xcomPull('create_job_flow') }}",
    stepId: "{{ ti.xcomPull('add_steps')[0] }}",
    pokeInterval: { seconds: 5 },
    timeout: { hours: 3 },
  });

  // Runs whatever happened to the step, so a failed step does not leave the cluster up.
  const terminateJobFlow = new EmrTerminateJobFlowOperator({
    taskId: 'terminate_job_flow',
    jobFlowId: "{{ ti.xcomPull('create_job_flow') }}",
    triggerRule: TriggerRule.ALL_DONE,
  });

  const loadIntoRedshift = new S3ToRedshiftOperator({
    taskId: 'load_into_redshift',
    schema: 'public',
    table: 'daily_orders',
    s3Bucket: '{{ params.bucket }}',
    s3Key: 'aggregated/{{ ds }}/',
    copyOptions: ['FORMAT AS PARQUET'],
    redshiftDataApiKwargs: {
      database: '{{ params.redshiftDatabase }}',
      clusterIdentifier: '{{ params.redshiftCluster }}',
      dbUser: '{{ params.redshiftUser }}',
      pollInterval: { seconds: 2 },
    },
  });

  waitForRawData.then(crawlRawData);
  crawlRawData.then(cleanRawData);
  cleanRawData.then(createJobFlow);
  createJobFlow.then(addSteps);
  addSteps.then(watchStep);
  watchStep.then(terminateJobFlow);
  terminateJobFlow.then(loadIntoRedshift);
  watchStep.then(loadIntoRedshift);
});
