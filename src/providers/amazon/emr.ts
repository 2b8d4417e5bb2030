import { RemoteError, ValidationError } from '../../errors.js';
import { BaseOperator, type BaseOperatorArgs } from '../../dag/base-operator.js';
import { BaseSensorOperator, type BaseSensorArgs } from '../../dag/sensors/base.js';
import { durationToMs, type Duration } from '../../dag/duration.js';
import type { TaskContext } from '../../dag/execution.js';
import { abortReason, resolveAws, waitFor, type AwsArgs } from './base.js';

type Emr = typeof import('@aws-sdk/client-emr');
type EmrClient = import('@aws-sdk/client-emr').EMRClient;

/** Run `use` with an EMR client for this task's connection, destroyed afterwards. */
async function withEmr<T>(
  context: TaskContext,
  args: AwsArgs,
  use: (emr: Emr, client: EmrClient, send: Send) => Promise<T>,
): Promise<T> {
  const emr = await import('@aws-sdk/client-emr');
  const { config } = await resolveAws(context, args, 'emr');
  const client = new emr.EMRClient(config);
  try {
    return await use(emr, client, { abortSignal: context.signal });
  } catch (error) {
    throw abortReason(context, error);
  } finally {
    client.destroy();
  }
}

type Send = { abortSignal: AbortSignal };

/** The cluster's description (DescribeCluster), as the sensors and waits read it. */
async function describeCluster(emr: Emr, client: EmrClient, send: Send, clusterId: string) {
  return (await client.send(new emr.DescribeClusterCommand({ ClusterId: clusterId }), send)).Cluster;
}

/** The step's description (DescribeStep). */
async function describeStep(emr: Emr, client: EmrClient, send: Send, clusterId: string, stepId: string) {
  return (await client.send(new emr.DescribeStepCommand({ ClusterId: clusterId, StepId: stepId }), send))
    .Step;
}

/** "TERMINATED_WITH_ERRORS (VALIDATION_ERROR: The subnet does not exist)". */
function clusterStateText(status: import('@aws-sdk/client-emr').ClusterStatus | undefined): string {
  const reason = status?.StateChangeReason;
  const why = [reason?.Code, reason?.Message].filter(Boolean).join(': ');
  return `${status?.State ?? 'unknown'}${why ? ` (${why})` : ''}`;
}

/** Airflow's failure message of a step: reason, message and log file of its FailureDetails. */
function stepFailureText(status: import('@aws-sdk/client-emr').StepStatus | undefined): string {
  const f = status?.FailureDetails;
  const reason = status?.StateChangeReason?.Message;
  if (f && (f.Reason || f.Message || f.LogFile))
    return `for reason ${f.Reason ?? 'unknown'} with message ${f.Message ?? 'none'} and log file ${f.LogFile ?? 'none'}`;
  return reason ? `: ${reason}` : 'with no failure details';
}

const CLUSTER_DOWN = new Set(['TERMINATING', 'TERMINATED', 'TERMINATED_WITH_ERRORS']);
const STEP_FAILED = ['CANCELLED', 'FAILED', 'INTERRUPTED'];

async function waitForStep(
  emr: Emr,
  client: EmrClient,
  context: TaskContext,
  jobFlowId: string,
  stepId: string,
  pollMs: number,
): Promise<void> {
  const step = await waitFor(
    context,
    pollMs,
    () => describeStep(emr, client, { abortSignal: context.signal }, jobFlowId, stepId),
    (s) => s?.Status?.State === 'COMPLETED' || STEP_FAILED.includes(s?.Status?.State ?? ''),
  );
  if (step?.Status?.State !== 'COMPLETED')
    throw new RemoteError(
      `EMR step ${stepId} on ${jobFlowId} ended ${step?.Status?.State} ${stepFailureText(step?.Status)}`,
    );
}

export interface EmrCreateJobFlowOperatorArgs extends BaseOperatorArgs, AwsArgs {
  /** RunJobFlow fields (Name, ReleaseLabel, Instances, Steps…), over the emrConnId's extra (templated). */
  jobFlowOverrides?: Record<string, unknown>;
  /** Connection whose extra JSON holds the base RunJobFlow fields; default `emr_default` (optional). */
  emrConnId?: string | null;
  /** Wait until the cluster is up (WAITING or RUNNING); default false. */
  waitForCompletion?: boolean;
  /** Between state reads while waiting; default 60 seconds. */
  pollInterval?: Duration;
}

/** Creates an EMR cluster (Airflow's EmrCreateJobFlowOperator). Returns the job flow id. */
export class EmrCreateJobFlowOperator extends BaseOperator {
  static override templateFields = ['jobFlowOverrides'];
  jobFlowOverrides: Record<string, unknown>;
  private readonly opts: EmrCreateJobFlowOperatorArgs;
  private readonly pollMs: number;

  constructor(args: EmrCreateJobFlowOperatorArgs) {
    super(args);
    this.jobFlowOverrides = args.jobFlowOverrides ?? {};
    this.opts = args;
    this.pollMs = durationToMs(args.pollInterval ?? { seconds: 60 }, 'pollInterval');
    this.uiColor = '#f9c915';
  }

  override async execute(context: TaskContext): Promise<string> {
    const emrConnId = this.opts.emrConnId === undefined ? 'emr_default' : this.opts.emrConnId;
    const base = emrConnId ? ((await context.services.getConnection(emrConnId))?.extra ?? {}) : {};
    const request = { ...base, ...this.jobFlowOverrides };
    if (typeof request.Name !== 'string' || !request.Name)
      throw new ValidationError(`Task '${this.taskId}': the job flow needs a Name (in jobFlowOverrides)`);
    return withEmr(context, this.opts, async (emr, client, send) => {
      context.log.info(`Creating job flow ${request.Name}`);
      const created = await client.send(
        new emr.RunJobFlowCommand(request as unknown as import('@aws-sdk/client-emr').RunJobFlowInput),
        send,
      );
      const id = created.JobFlowId;
      if (!id) throw new RemoteError('RunJobFlow returned no job flow id');
      context.log.info(`Job flow with id ${id} created`);
      if (this.opts.waitForCompletion) {
        const cluster = await waitFor(
          context,
          this.pollMs,
          () => describeCluster(emr, client, send, id),
          (c) =>
            ['WAITING', 'RUNNING'].includes(c?.Status?.State ?? '') ||
            CLUSTER_DOWN.has(c?.Status?.State ?? ''),
        );
        if (CLUSTER_DOWN.has(cluster?.Status?.State ?? ''))
          throw new RemoteError(`EMR cluster ${id} did not start: ${clusterStateText(cluster?.Status)}`);
      }
      return id;
    });
  }
}

export interface EmrAddStepsOperatorArgs extends BaseOperatorArgs, AwsArgs {
  /** The cluster (templated), e.g. "{{ ti.xcomPull('create_job_flow') }}". */
  jobFlowId?: string;
  /** Or the cluster's name, looked up among clusters in clusterStates (templated). */
  jobFlowName?: string;
  clusterStates?: string[];
  /** AddJobFlowSteps' StepConfig list (Name, ActionOnFailure, HadoopJarStep) (templated). */
  steps: Record<string, unknown>[];
  executionRoleArn?: string;
  /** Wait until every added step completes; default false. */
  waitForCompletion?: boolean;
  /** Between state reads while waiting; default 5 seconds. */
  pollInterval?: Duration;
}

/** Adds steps to a cluster (Airflow's EmrAddStepsOperator). Returns the step ids. */
export class EmrAddStepsOperator extends BaseOperator {
  static override templateFields = ['jobFlowId', 'jobFlowName', 'clusterStates', 'steps'];
  jobFlowId: string | undefined;
  jobFlowName: string | undefined;
  clusterStates: string[];
  steps: Record<string, unknown>[];
  private readonly opts: EmrAddStepsOperatorArgs;
  private readonly pollMs: number;

  constructor(args: EmrAddStepsOperatorArgs) {
    super(args);
    if (!args.jobFlowId && !args.jobFlowName)
      throw new ValidationError(`Task '${this.taskId}': give jobFlowId or jobFlowName`);
    if (args.jobFlowId && args.jobFlowName)
      throw new ValidationError(`Task '${this.taskId}': give only one of jobFlowId and jobFlowName`);
    if (!Array.isArray(args.steps))
      throw new ValidationError(`Task '${this.taskId}': steps must be a list of step configs`);
    this.jobFlowId = args.jobFlowId;
    this.jobFlowName = args.jobFlowName;
    this.clusterStates = args.clusterStates ?? ['RUNNING', 'WAITING'];
    this.steps = args.steps;
    this.opts = args;
    this.pollMs = durationToMs(args.pollInterval ?? { seconds: 5 }, 'pollInterval');
    this.uiColor = '#f9c915';
  }

  override async execute(context: TaskContext): Promise<string[]> {
    return withEmr(context, this.opts, async (emr, client, send) => {
      let id = this.jobFlowId;
      if (!id) {
        const clusters = [];
        let marker: string | undefined;
        do {
          const page = await client.send(
            new emr.ListClustersCommand({
              ClusterStates: this.clusterStates as import('@aws-sdk/client-emr').ClusterState[],
              Marker: marker,
            }),
            send,
          );
          clusters.push(...(page.Clusters ?? []).filter((c) => c.Name === this.jobFlowName));
          marker = page.Marker;
        } while (marker);
        if (clusters.length !== 1)
          throw new RemoteError(
            `${clusters.length === 0 ? 'No' : 'More than one'} cluster named '${this.jobFlowName}' in states ${this.clusterStates.join(', ')}`,
          );
        id = clusters[0]!.Id!;
      }
      context.log.info(`Adding steps to ${id}`);
      const added = await client.send(
        new emr.AddJobFlowStepsCommand({
          JobFlowId: id,
          Steps: this.steps as unknown as import('@aws-sdk/client-emr').StepConfig[],
          ...(this.opts.executionRoleArn ? { ExecutionRoleArn: this.opts.executionRoleArn } : {}),
        }),
        send,
      );
      const stepIds = added.StepIds ?? [];
      context.log.info(`Steps ${stepIds.join(', ')} added to JobFlow`);
      if (this.opts.waitForCompletion)
        for (const stepId of stepIds) await waitForStep(emr, client, context, id, stepId, this.pollMs);
      return stepIds;
    });
  }
}

export interface EmrStepSensorArgs extends BaseSensorArgs, AwsArgs {
  jobFlowId: string;
  stepId: string;
  targetStates?: string[];
  failedStates?: string[];
}

/** Waits for an EMR step to finish; a failed step fails the sensor with its reason (Airflow's EmrStepSensor). */
export class EmrStepSensor extends BaseSensorOperator {
  static override templateFields = ['jobFlowId', 'stepId', 'targetStates', 'failedStates'];
  jobFlowId: string;
  stepId: string;
  targetStates: string[];
  failedStates: string[];
  private readonly opts: EmrStepSensorArgs;

  constructor(args: EmrStepSensorArgs) {
    super({ pokeInterval: { seconds: 60 }, ...args });
    if (!args.jobFlowId || !args.stepId)
      throw new ValidationError(`Sensor '${this.taskId}': jobFlowId and stepId are required`);
    this.jobFlowId = args.jobFlowId;
    this.stepId = args.stepId;
    this.targetStates = args.targetStates ?? ['COMPLETED'];
    this.failedStates = args.failedStates ?? STEP_FAILED;
    this.opts = args;
  }

  async poke(context: TaskContext): Promise<boolean> {
    return withEmr(context, this.opts, async (emr, client, send) => {
      context.log.info(`Poking step ${this.stepId} on cluster ${this.jobFlowId}`);
      const step = await describeStep(emr, client, send, this.jobFlowId, this.stepId);
      const state = step?.Status?.State ?? 'unknown';
      context.log.info(`Job flow currently ${state}`);
      if (this.failedStates.includes(state))
        throw new RemoteError(
          `EMR step ${this.stepId} on ${this.jobFlowId} ${state} ${stepFailureText(step?.Status)}`,
        );
      return this.targetStates.includes(state);
    });
  }
}

export interface EmrJobFlowSensorArgs extends BaseSensorArgs, AwsArgs {
  jobFlowId: string;
  targetStates?: string[];
  failedStates?: string[];
}

/** Waits for a cluster to reach a state, TERMINATED by default (Airflow's EmrJobFlowSensor). */
export class EmrJobFlowSensor extends BaseSensorOperator {
  static override templateFields = ['jobFlowId', 'targetStates', 'failedStates'];
  jobFlowId: string;
  targetStates: string[];
  failedStates: string[];
  private readonly opts: EmrJobFlowSensorArgs;

  constructor(args: EmrJobFlowSensorArgs) {
    super({ pokeInterval: { seconds: 60 }, ...args });
    if (!args.jobFlowId) throw new ValidationError(`Sensor '${this.taskId}': jobFlowId is required`);
    this.jobFlowId = args.jobFlowId;
    this.targetStates = args.targetStates ?? ['TERMINATED'];
    this.failedStates = args.failedStates ?? ['TERMINATED_WITH_ERRORS'];
    this.opts = args;
  }

  async poke(context: TaskContext): Promise<boolean> {
    return withEmr(context, this.opts, async (emr, client, send) => {
      const cluster = await describeCluster(emr, client, send, this.jobFlowId);
      const state = cluster?.Status?.State ?? 'unknown';
      context.log.info(`Job flow ${this.jobFlowId} currently ${state}`);
      if (this.failedStates.includes(state))
        throw new RemoteError(`EMR job flow ${this.jobFlowId} ${clusterStateText(cluster?.Status)}`);
      return this.targetStates.includes(state);
    });
  }
}

export interface EmrTerminateJobFlowOperatorArgs extends BaseOperatorArgs, AwsArgs {
  /** The cluster (templated). */
  jobFlowId: string;
  /** Wait until it is TERMINATED; default false. */
  waitForCompletion?: boolean;
  pollInterval?: Duration;
}

/** Terminates an EMR cluster (Airflow's EmrTerminateJobFlowOperator). */
export class EmrTerminateJobFlowOperator extends BaseOperator {
  static override templateFields = ['jobFlowId'];
  jobFlowId: string;
  private readonly opts: EmrTerminateJobFlowOperatorArgs;
  private readonly pollMs: number;

  constructor(args: EmrTerminateJobFlowOperatorArgs) {
    super(args);
    if (!args.jobFlowId) throw new ValidationError(`Task '${this.taskId}': jobFlowId is required`);
    this.jobFlowId = args.jobFlowId;
    this.opts = args;
    this.pollMs = durationToMs(args.pollInterval ?? { seconds: 60 }, 'pollInterval');
    this.uiColor = '#f9c915';
  }

  override async execute(context: TaskContext): Promise<void> {
    await withEmr(context, this.opts, async (emr, client, send) => {
      context.log.info(`Terminating JobFlow ${this.jobFlowId}`);
      await client.send(new emr.TerminateJobFlowsCommand({ JobFlowIds: [this.jobFlowId] }), send);
      if (this.opts.waitForCompletion) {
        const cluster = await waitFor(
          context,
          this.pollMs,
          () => describeCluster(emr, client, send, this.jobFlowId),
          (c) => ['TERMINATED', 'TERMINATED_WITH_ERRORS'].includes(c?.Status?.State ?? ''),
        );
        context.log.info(`JobFlow ${this.jobFlowId} ${clusterStateText(cluster?.Status)}`);
      }
      context.log.info(`Terminated JobFlow ${this.jobFlowId}`);
    });
  }
}
