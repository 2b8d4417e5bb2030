import { BaseOperator, type BaseOperatorArgs } from '../base-operator.js';
import { abortableSleep, RescheduleTask, SensorTimeout, SkipTask, type TaskContext } from '../execution.js';
import { durationToMs, type Duration } from '../duration.js';
import { ValidationError } from '../../errors.js';
import type { SensorSpec } from '../serialized.js';

/** What poke() returns: done or not, optionally with a value to push as the sensor's XCom. */
export type PokeResult = boolean | { done: boolean; xcom?: unknown };

export interface BaseSensorArgs extends BaseOperatorArgs {
  /** `poke` keeps the worker slot between pokes; `reschedule` frees it (up_for_reschedule). */
  mode?: 'poke' | 'reschedule';
  /** Default 60 s. */
  pokeInterval?: Duration;
  /** Default 7 days. */
  timeout?: Duration;
  /** On timeout: skipped instead of failed. */
  softFail?: boolean;
  /** Grow the interval between pokes (2^n × pokeInterval, capped at 1 day). */
  exponentialBackoff?: boolean;
  /** Cap for the backoff interval. */
  maxWait?: Duration;
}

/**
 * Waits for something by calling poke() until it reports done. In `poke` mode execute() loops
 * itself; in `reschedule` mode each try pokes once and throws RescheduleTask (the runner records
 * up_for_reschedule and the scheduler starts a new try at that time). A timeout fails the task
 * without retry (SensorTimeout), or skips it with softFail.
 */
export abstract class BaseSensorOperator extends BaseOperator {
  readonly mode: 'poke' | 'reschedule';
  readonly pokeIntervalMs: number;
  readonly timeoutMs: number;
  readonly softFail: boolean;
  readonly exponentialBackoff: boolean;
  readonly maxWaitMs: number;

  constructor(args: BaseSensorArgs) {
    super(args);
    this.mode = args.mode ?? 'poke';
    if (this.mode !== 'poke' && this.mode !== 'reschedule')
      throw new ValidationError(`Sensor '${this.taskId}': mode must be 'poke' or 'reschedule'`);
    this.pokeIntervalMs = durationToMs(args.pokeInterval ?? 60, 'pokeInterval');
    this.timeoutMs = durationToMs(args.timeout ?? { days: 7 }, 'timeout');
    this.softFail = args.softFail ?? false;
    this.exponentialBackoff = args.exponentialBackoff ?? false;
    this.maxWaitMs = args.maxWait === undefined ? 86_400_000 : durationToMs(args.maxWait, 'maxWait');
    this.uiColor = '#e6f1f2';
  }

  abstract poke(context: TaskContext): Promise<PokeResult> | PokeResult;

  /** Delay before the next poke after `pokeCount` pokes. */
  nextPokeDelay(pokeCount: number): number {
    if (!this.exponentialBackoff) return this.pokeIntervalMs;
    return Math.min(this.pokeIntervalMs * 2 ** Math.max(0, pokeCount - 1), this.maxWaitMs);
  }

  override async execute(context: TaskContext): Promise<unknown> {
    const started = (this.mode === 'reschedule' ? context.sensorFirstPokeAt : null) ?? new Date();
    let pokes = 0;
    for (;;) {
      pokes++;
      const result = await this.poke(context);
      const done = typeof result === 'boolean' ? result : result.done;
      if (done) {
        context.log.info('Success criteria met. Exiting.');
        return typeof result === 'boolean' ? undefined : result.xcom;
      }
      const elapsed = Date.now() - started.getTime();
      if (elapsed >= this.timeoutMs) {
        const message = `Sensor has timed out; run duration of ${Math.round(elapsed / 1000)} seconds is more than the specified timeout of ${this.timeoutMs / 1000}.`;
        if (this.softFail) throw new SkipTask(message);
        throw new SensorTimeout(message);
      }
      const delay = Math.min(this.nextPokeDelay(pokes), Math.max(0, this.timeoutMs - elapsed));
      if (this.mode === 'reschedule') throw new RescheduleTask(new Date(Date.now() + delay));
      context.log.info(`Poke returned false; sleeping ${delay} ms`);
      await abortableSleep(delay, context.signal);
    }
  }

  protected override sensorSpec(): SensorSpec {
    return {
      mode: this.mode,
      pokeIntervalMs: this.pokeIntervalMs,
      timeoutMs: this.timeoutMs,
      softFail: this.softFail,
      exponentialBackoff: this.exponentialBackoff,
    };
  }
}

/** Airflow's short name. */
export { BaseSensorOperator as BaseSensor };

export interface FunctionSensorArgs extends BaseSensorArgs {
  poke: (context: TaskContext) => Promise<PokeResult> | PokeResult;
}

/** A sensor from a function (what `task.sensor` builds; Airflow's PythonSensor). */
export class FunctionSensor extends BaseSensorOperator {
  private readonly pokeFn: FunctionSensorArgs['poke'];
  constructor(args: FunctionSensorArgs) {
    super(args);
    if (typeof args.poke !== 'function')
      throw new ValidationError(`Sensor '${this.taskId}': poke must be a function`);
    this.pokeFn = args.poke;
  }
  poke(context: TaskContext) {
    return this.pokeFn(context);
  }
}
export const PythonSensor = FunctionSensor;
