/**
 * Amazon provider: AWS operators and sensors (Airflow's apache-airflow-providers-amazon, camelCase).
 * The AWS SDK client packages are imported inside execute/poke only, so loading a DAG file that
 * uses these classes, or any other task, never loads them.
 */
export { DEFAULT_AWS_CONN_ID, type AwsArgs } from './base.js';
export { awsConnectionSettings, type AwsConnectionSettings } from './connection.js';
export { S3KeySensor, parseS3Url, type S3KeySensorArgs, type S3ObjectInfo } from './s3.js';
export {
  GlueCrawlerOperator,
  GlueJobOperator,
  type GlueCrawlerOperatorArgs,
  type GlueJobOperatorArgs,
} from './glue.js';
export {
  EmrCreateJobFlowOperator,
  EmrAddStepsOperator,
  EmrStepSensor,
  EmrJobFlowSensor,
  EmrTerminateJobFlowOperator,
  type EmrCreateJobFlowOperatorArgs,
  type EmrAddStepsOperatorArgs,
  type EmrStepSensorArgs,
  type EmrJobFlowSensorArgs,
  type EmrTerminateJobFlowOperatorArgs,
} from './emr.js';
export { S3ToRedshiftOperator, type S3ToRedshiftOperatorArgs, type RedshiftDataApiArgs } from './redshift.js';
