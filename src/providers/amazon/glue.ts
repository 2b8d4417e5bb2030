import { RemoteError, ValidationError } from '../../errors.js';
import { BaseOperator, type BaseOperatorArgs } from '../../dag/base-operator.js';
import { durationToMs, type Duration } from '../../dag/duration.js';
import type { TaskContext } from '../../dag/execution.js';
import { abortReason, awsErrorText, resolveAws, waitFor, type AwsArgs } from './base.js';

export interface GlueCrawlerOperatorArgs extends BaseOperatorArgs, AwsArgs {
  /** The crawler, as Glue's CreateCrawler takes it (Name, Role, DatabaseName, Targets…) (templated). */
  config: Record<string, unknown>;
  /** Wait until the crawl ends; default true. */
  waitForCompletion?: boolean;
  /** Between state reads; default 5 seconds. */
  pollInterval?: Duration;
}

/**
 * Creates the crawler (or updates it when it exists), starts it and waits for the crawl
 * (Airflow's GlueCrawlerOperator). Returns the crawler name.
 */
export class GlueCrawlerOperator extends BaseOperator {
  static override templateFields = ['config'];
  config: Record<string, unknown>;
  private readonly opts: GlueCrawlerOperatorArgs;
  private readonly pollMs: number;

  constructor(args: GlueCrawlerOperatorArgs) {
    super(args);
    if (!args.config || typeof args.config !== 'object' || typeof args.config.Name !== 'string')
      throw new ValidationError(`Task '${this.taskId}': config must be an object with the crawler's Name`);
    this.config = args.config;
    this.opts = args;
    this.pollMs = durationToMs(args.pollInterval ?? { seconds: 5 }, 'pollInterval');
    this.uiColor = '#ededed';
  }

  override async execute(context: TaskContext): Promise<string> {
    const glue = await import('@aws-sdk/client-glue');
    const { config } = await resolveAws(context, this.opts, 'glue');
    const client = new glue.GlueClient(config);
    const send = { abortSignal: context.signal };
    const name = String(this.config.Name);
    try {
      let current: Record<string, unknown> | undefined;
      try {
        current = (await client.send(new glue.GetCrawlerCommand({ Name: name }), send)).Crawler as
          Record<string, unknown> | undefined;
      } catch (error) {
        if ((error as Error).name !== 'EntityNotFoundException') throw error;
      }
      if (current) {
        // As Airflow: update only the settings that differ from the crawler's.
        const changed = Object.keys(this.config).filter(
          (k) => k !== 'Name' && JSON.stringify(current[k]) !== JSON.stringify(this.config[k]),
        );
        if (changed.length > 0) {
          context.log.info(`Updating crawler ${name}: ${changed.join(', ')}`);
          const update = Object.fromEntries([['Name', name], ...changed.map((k) => [k, this.config[k]])]);
          await client.send(
            new glue.UpdateCrawlerCommand(update as import('@aws-sdk/client-glue').UpdateCrawlerRequest),
            send,
          );
        } else context.log.info(`Crawler ${name} is up to date`);
      } else {
        context.log.info(`Creating crawler ${name}`);
        await client.send(
          new glue.CreateCrawlerCommand(
            this.config as unknown as import('@aws-sdk/client-glue').CreateCrawlerRequest,
          ),
          send,
        );
      }
      context.log.info(`Triggering AWS Glue Crawler ${name}`);
      await client.send(new glue.StartCrawlerCommand({ Name: name }), send);
      if (this.opts.waitForCompletion === false) return name;
      context.log.info(`Waiting for AWS Glue Crawler ${name}`);
      const crawler = await waitFor(
        context,
        this.pollMs,
        async () => (await client.send(new glue.GetCrawlerCommand({ Name: name }), send)).Crawler,
        (c) => c?.State === 'READY',
      );
      const last = crawler?.LastCrawl;
      context.log.info(`Crawler ${name} finished: ${last?.Status ?? 'unknown'}`);
      if (last?.Status === 'FAILED' || last?.Status === 'CANCELLED')
        throw new RemoteError(
          `Glue crawler ${name} ended ${last.Status}${last.ErrorMessage ? `: ${last.ErrorMessage}` : ''}`,
        );
      return name;
    } catch (error) {
      throw abortReason(context, error);
    } finally {
      client.destroy();
    }
  }
}

export interface GlueJobOperatorArgs extends BaseOperatorArgs, AwsArgs {
  /** The Glue job (created when missing and scriptLocation is given) (templated). */
  jobName: string;
  /** S3 URL of the job script; needed to create the job (templated). */
  scriptLocation?: string;
  jobDesc?: string;
  /** Arguments of this run, e.g. { '--input': 's3://…' } (templated). */
  scriptArgs?: Record<string, string>;
  /** IAM role name or ARN for a new job (templated). */
  iamRoleName?: string;
  iamRoleArn?: string;
  concurrentRunLimit?: number;
  retryLimit?: number;
  /** Capacity of a new job (MaxCapacity), when createJobKwargs names no worker type. */
  numOfDpus?: number;
  /** More CreateJob fields (GlueVersion, WorkerType, NumberOfWorkers…) (templated). */
  createJobKwargs?: Record<string, unknown>;
  /** More StartJobRun fields (Timeout, WorkerType…). */
  runJobKwargs?: Record<string, unknown>;
  /** Update an existing job with the given settings before the run; default false. */
  updateConfig?: boolean;
  /** Wait until the run ends; default true. */
  waitForCompletion?: boolean;
  /** Stop the run when the task is killed or times out while waiting; default false. */
  stopJobRunOnKill?: boolean;
  /** Between state reads; default 6 seconds. */
  pollInterval?: Duration;
}

const GLUE_FAILED = new Set(['FAILED', 'STOPPED', 'TIMEOUT', 'ERROR', 'EXPIRED']);

/** Runs a Glue job, creating it first when needed (Airflow's GlueJobOperator). Returns the job run id. */
export class GlueJobOperator extends BaseOperator {
  static override templateFields = [
    'jobName',
    'scriptLocation',
    'scriptArgs',
    'createJobKwargs',
    'iamRoleName',
    'iamRoleArn',
  ];
  jobName: string;
  scriptLocation: string | undefined;
  scriptArgs: Record<string, string>;
  createJobKwargs: Record<string, unknown>;
  iamRoleName: string | undefined;
  iamRoleArn: string | undefined;
  private readonly opts: GlueJobOperatorArgs;
  private readonly pollMs: number;

  constructor(args: GlueJobOperatorArgs) {
    super(args);
    if (typeof args.jobName !== 'string' || !args.jobName)
      throw new ValidationError(`Task '${this.taskId}': jobName is required`);
    this.jobName = args.jobName;
    this.scriptLocation = args.scriptLocation;
    this.scriptArgs = args.scriptArgs ?? {};
    this.createJobKwargs = args.createJobKwargs ?? {};
    this.iamRoleName = args.iamRoleName;
    this.iamRoleArn = args.iamRoleArn;
    this.opts = args;
    this.pollMs = durationToMs(args.pollInterval ?? { seconds: 6 }, 'pollInterval');
    this.uiColor = '#ededed';
  }

  /** CreateJob/UpdateJob fields from the operator's arguments (Airflow's create_glue_job_config). */
  private jobConfig(): Record<string, unknown> {
    const role = this.iamRoleArn ?? this.iamRoleName;
    if (!role)
      throw new ValidationError(
        `Task '${this.taskId}': iamRoleName or iamRoleArn is required to create a Glue job`,
      );
    if (!this.scriptLocation)
      throw new ValidationError(
        `Task '${this.taskId}': scriptLocation is required to create Glue job '${this.jobName}'`,
      );
    const config: Record<string, unknown> = {
      Name: this.jobName,
      Role: role,
      ExecutionProperty: { MaxConcurrentRuns: this.opts.concurrentRunLimit ?? 1 },
      Command: { Name: 'glueetl', ScriptLocation: this.scriptLocation, PythonVersion: '3' },
      MaxRetries: this.opts.retryLimit ?? 0,
      ...(this.opts.jobDesc ? { Description: this.opts.jobDesc } : {}),
      ...this.createJobKwargs,
    };
    if (!('WorkerType' in config) && !('MaxCapacity' in config) && this.opts.numOfDpus !== undefined)
      config.MaxCapacity = this.opts.numOfDpus;
    return config;
  }

  override async execute(context: TaskContext): Promise<string> {
    const glue = await import('@aws-sdk/client-glue');
    const { config } = await resolveAws(context, this.opts, 'glue');
    const client = new glue.GlueClient(config);
    const send = { abortSignal: context.signal };
    const jobName = this.jobName;
    try {
      let exists = true;
      try {
        await client.send(new glue.GetJobCommand({ JobName: jobName }), send);
      } catch (error) {
        if ((error as Error).name !== 'EntityNotFoundException') throw error;
        exists = false;
      }
      if (!exists) {
        context.log.info(`Creating Glue job ${jobName}`);
        const input = this.jobConfig() as unknown as import('@aws-sdk/client-glue').CreateJobRequest;
        await client.send(new glue.CreateJobCommand(input), send);
      } else if (this.opts.updateConfig) {
        const { Name: _name, ...update } = this.jobConfig();
        context.log.info(`Updating Glue job ${jobName}`);
        await client.send(
          new glue.UpdateJobCommand({
            JobName: jobName,
            JobUpdate: update as import('@aws-sdk/client-glue').JobUpdate,
          }),
          send,
        );
      }
      const started = await client.send(
        new glue.StartJobRunCommand({
          ...(this.opts.runJobKwargs as object),
          JobName: jobName,
          Arguments: this.scriptArgs,
        }),
        send,
      );
      const runId = started.JobRunId;
      if (!runId) throw new RemoteError(`Glue did not return a job run id for ${jobName}`);
      context.log.info(`Initializing AWS Glue Job: ${jobName}. Job run id: ${runId}`);
      // Pushed now (not only as the return value) so a run that fails while waiting still names its id.
      await context.ti.xcomPush('glue_job_run_id', runId);
      if (this.opts.waitForCompletion === false) return runId;
      let lastState: string | undefined;
      try {
        const run = await waitFor(
          context,
          this.pollMs,
          async () =>
            (await client.send(new glue.GetJobRunCommand({ JobName: jobName, RunId: runId }), send)).JobRun,
          (r) => {
            const state = r?.JobRunState;
            if (state !== lastState) context.log.info(`Glue job ${jobName} run ${runId}: ${state}`);
            lastState = state;
            return state === 'SUCCEEDED' || GLUE_FAILED.has(state ?? '');
          },
        );
        if (run?.JobRunState !== 'SUCCEEDED')
          throw new RemoteError(
            `Glue job ${jobName} run ${runId} ended ${run?.JobRunState}${run?.ErrorMessage ? `: ${run.ErrorMessage}` : ''}`,
          );
      } catch (error) {
        if (context.signal.aborted && this.opts.stopJobRunOnKill) {
          context.log.info(`Stopping Glue job ${jobName} run ${runId}`);
          await client
            .send(new glue.BatchStopJobRunCommand({ JobName: jobName, JobRunIds: [runId] }))
            .catch((stopError: unknown) =>
              context.log.warn(`Could not stop run ${runId}: ${awsErrorText(stopError)}`),
            );
        }
        throw error;
      }
      return runId;
    } catch (error) {
      throw abortReason(context, error);
    } finally {
      client.destroy();
    }
  }
}
