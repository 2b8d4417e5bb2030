import { BaseSensorOperator, type BaseSensorArgs } from './base.js';
import { BaseOperator, type BaseOperatorArgs } from '../base-operator.js';
import { durationToMs, type Duration } from '../duration.js';
import { FailTaskNow, SkipTask, type TaskContext } from '../execution.js';
import type { TaskInstanceState } from '../../core/states.js';

export interface ExternalTaskSensorArgs extends BaseSensorArgs {
  externalDagId: string;
  /** One task, several, or none (wait for the whole DAG run). */
  externalTaskId?: string | null;
  externalTaskIds?: string[] | null;
  /** States that count as done (default ['success']). */
  allowedStates?: string[];
  /** States that fail this sensor at once. */
  failedStates?: string[];
  /** States that skip this sensor. */
  skippedStates?: string[];
  /** The other run's logical date = ours − executionDelta (default: same logical date). */
  executionDelta?: Duration;
}

/** Waits for a task (or a whole run) of another DAG at the matching logical date. */
export class ExternalTaskSensor extends BaseSensorOperator {
  static override templateFields = ['externalDagId', 'externalTaskIds'];
  externalDagId: string;
  externalTaskIds: string[] | null;
  private readonly allowed: string[];
  private readonly failed: string[];
  private readonly skipped: string[];
  private readonly deltaMs: number;

  constructor(args: ExternalTaskSensorArgs) {
    super(args);
    this.externalDagId = args.externalDagId;
    this.externalTaskIds = args.externalTaskIds ?? (args.externalTaskId ? [args.externalTaskId] : null);
    this.allowed = args.allowedStates ?? ['success'];
    this.failed = args.failedStates ?? [];
    this.skipped = args.skippedStates ?? [];
    this.deltaMs =
      args.executionDelta === undefined ? 0 : durationToMs(args.executionDelta, 'executionDelta');
  }

  async poke(context: TaskContext): Promise<boolean> {
    const logicalDate = new Date(context.logical_date.getTime() - this.deltaMs);
    const what = this.externalTaskIds
      ? `${this.externalDagId}.${JSON.stringify(this.externalTaskIds)}`
      : this.externalDagId;
    context.log.info(`Poking for ${what} on ${logicalDate.toISOString()} ...`);
    const { runState, taskStates } = await context.services.getExternalStates({
      dagId: this.externalDagId,
      taskIds: this.externalTaskIds,
      logicalDate,
    });
    const states: (string | null)[] = this.externalTaskIds ? taskStates : [runState];
    if (states.some((s) => s !== null && this.failed.includes(s)))
      throw new FailTaskNow(`The external ${what} failed with states ${JSON.stringify(states)}`);
    if (states.some((s) => s !== null && this.skipped.includes(s)))
      throw new SkipTask(`The external ${what} was skipped`);
    return states.length > 0 && states.every((s) => s !== null && this.allowed.includes(s));
  }
}

export interface ExternalTaskMarkerArgs extends BaseOperatorArgs {
  externalDagId: string;
  externalTaskId: string;
  /** Logical date of the child run (templated; default the same as ours). */
  logicalDate?: string;
  recursionDepth?: number;
}

/**
 * Marks that clearing this task should also clear a task in another DAG. It does nothing when
 * run; the `tasks clear` logic reads its serialized fields.
 */
export class ExternalTaskMarker extends BaseOperator {
  static override templateFields = ['externalDagId', 'externalTaskId', 'logicalDate'];
  externalDagId: string;
  externalTaskId: string;
  logicalDate: string;
  readonly recursionDepth: number;
  constructor(args: ExternalTaskMarkerArgs) {
    super(args);
    this.externalDagId = args.externalDagId;
    this.externalTaskId = args.externalTaskId;
    this.logicalDate = args.logicalDate ?? '{{ logical_date.isoformat() }}';
    this.recursionDepth = args.recursionDepth ?? 10;
    this.uiColor = '#4db7db';
  }
  override async execute(): Promise<undefined> {
    return undefined;
  }
}

export type { TaskInstanceState };
