import { BaseOperator, type BaseOperatorArgs } from '../base-operator.js';
import { abortableSleep, FailTaskNow, type TaskContext } from '../execution.js';
import { durationToMs, type Duration } from '../duration.js';
import { ValidationError } from '../../errors.js';

export interface TriggerDagRunOperatorArgs extends BaseOperatorArgs {
  triggerDagId: string;
  triggerRunId?: string;
  conf?: Record<string, unknown>;
  /** ISO text or template; default now. */
  logicalDate?: string;
  resetDagRun?: boolean;
  waitForCompletion?: boolean;
  pokeInterval?: Duration;
  allowedStates?: string[];
  failedStates?: string[];
}

/** Creates a run of another DAG (optionally waiting for it to finish). */
export class TriggerDagRunOperator extends BaseOperator {
  static override templateFields = ['triggerDagId', 'triggerRunId', 'conf', 'logicalDate'];
  triggerDagId: string;
  triggerRunId: string | undefined;
  conf: Record<string, unknown>;
  logicalDate: string | undefined;
  private readonly opts: TriggerDagRunOperatorArgs;

  constructor(args: TriggerDagRunOperatorArgs) {
    super(args);
    if (typeof args.triggerDagId !== 'string' || !args.triggerDagId)
      throw new ValidationError(`Task '${this.taskId}': triggerDagId is required`);
    this.triggerDagId = args.triggerDagId;
    this.triggerRunId = args.triggerRunId;
    this.conf = args.conf ?? {};
    this.logicalDate = args.logicalDate;
    this.opts = args;
    this.uiColor = '#ffefeb';
  }

  override async execute(context: TaskContext): Promise<string> {
    const logicalDate = this.logicalDate ? new Date(this.logicalDate) : undefined;
    if (logicalDate && Number.isNaN(logicalDate.getTime()))
      throw new ValidationError(`logicalDate '${this.logicalDate}' is not a date`);
    const { runId } = await context.services.triggerDagRun({
      dagId: this.triggerDagId,
      runId: this.triggerRunId,
      conf: this.conf,
      logicalDate,
      resetDagRun: this.opts.resetDagRun ?? false,
    });
    context.log.info(`Triggered DAG ${this.triggerDagId} run ${runId}`);
    await context.ti.xcomPush('trigger_run_id', runId);
    if (this.opts.waitForCompletion) {
      const allowed = this.opts.allowedStates ?? ['success'];
      const failed = this.opts.failedStates ?? ['failed'];
      const interval = durationToMs(this.opts.pokeInterval ?? 60, 'pokeInterval');
      for (;;) {
        await abortableSleep(interval, context.signal);
        const state = await context.services.getDagRunState(this.triggerDagId, runId);
        context.log.info(`Waiting for ${this.triggerDagId} run ${runId}: ${String(state)}`);
        if (state && failed.includes(state))
          throw new FailTaskNow(`${this.triggerDagId} run ${runId} finished as ${state}`);
        if (state && allowed.includes(state)) break;
      }
    }
    return runId;
  }
}
