import { ProcessPool, type ProcessPoolOptions, type TaskProcessPool } from '../worker/process-pool.js';
import type { Executor, ExecutorEvent, TaskInstanceKey, TaskWorkItem } from './executor.js';

/**
 * LocalExecutor (core.parallelism tasks at once) and SequentialExecutor (one at a time): each try
 * runs in a warm task process of this host's process pool (src/worker/process-pool.ts, which also
 * holds the isolation rules). The executor itself only does what the scheduler needs: it counts
 * slots and keeps the pool's events until the scheduler drains them.
 */
export interface LocalExecutorOptions extends Omit<
  ProcessPoolOptions,
  'size' | 'executorClass' | 'name' | 'onEvent'
> {
  name: 'LocalExecutor' | 'SequentialExecutor';
  /** core.parallelism: tries at once (the pool's size). */
  parallelism: number;
}

export { keyString } from '../worker/work-item.js';

export class LocalExecutor implements Executor {
  readonly name: string;
  private readonly pool: TaskProcessPool;
  private readonly events: ExecutorEvent[] = [];
  private wakeUp: (() => void) | null = null;
  /** A finished event waits in `events` (the ones worth waking the scheduler for). */
  private finishedPending = false;

  constructor(private readonly options: LocalExecutorOptions) {
    this.name = options.name;
    this.pool = new ProcessPool({
      ...options,
      size: options.parallelism,
      executorClass: options.name,
      onEvent: (event) => this.emit(event),
    });
  }

  get openSlots(): number {
    return Math.max(0, this.options.parallelism - this.pool.active);
  }

  /** Task processes alive right now (busy or idle), for tests and diagnostics. */
  get processIds(): number[] {
    return this.pool.processIds;
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  async queue(item: TaskWorkItem): Promise<void> {
    // The outcome arrives as a `finished` event (onEvent); the promise adds nothing here.
    void this.pool.run(item);
  }

  drainEvents(): ExecutorEvent[] {
    this.finishedPending = false;
    return this.events.splice(0, this.events.length);
  }

  waitForEvent(maxWaitMs: number): Promise<boolean> {
    if (this.finishedPending) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), maxWaitMs);
      const previous = this.wakeUp;
      function done(event: boolean) {
        clearTimeout(timer);
        resolve(event);
      }
      this.wakeUp = () => {
        previous?.();
        done(true);
      };
    });
  }

  terminate(key: TaskInstanceKey): Promise<void> {
    return this.pool.terminate(key);
  }

  stop(graceMs: number): Promise<void> {
    return this.pool.stop(graceMs);
  }

  /**
   * Only an ended try can make new work ready, so only `finished` wakes the scheduler: a wake-up
   * for every start as well would double its loops while the fan-out runs.
   */
  private emit(event: ExecutorEvent): void {
    this.events.push(event);
    if (event.type !== 'finished') return;
    this.finishedPending = true;
    const wake = this.wakeUp;
    this.wakeUp = null;
    wake?.();
  }
}
