import { ProcessPool, type ProcessPoolOptions, type TaskProcessPool } from '../worker/process-pool.js';
import { ExecutorEventQueue } from './event-queue.js';
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
  private readonly events = new ExecutorEventQueue();

  constructor(private readonly options: LocalExecutorOptions) {
    this.name = options.name;
    this.pool = new ProcessPool({
      ...options,
      size: options.parallelism,
      executorClass: options.name,
      onEvent: (event) => this.events.push(event),
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
    return this.events.drain();
  }

  waitForEvent(maxWaitMs: number): Promise<boolean> {
    return this.events.waitForFinished(maxWaitMs);
  }

  terminate(key: TaskInstanceKey): Promise<void> {
    return this.pool.terminate(key);
  }

  stop(graceMs: number): Promise<void> {
    return this.pool.stop(graceMs);
  }
}
