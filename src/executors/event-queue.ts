import type { ExecutorEvent } from './executor.js';

/**
 * The events an executor keeps for the scheduler to drain, and the scheduler's wait for them.
 * Only an ended try can make new work ready, so only `finished` wakes a waiting scheduler: a
 * wake-up for every start as well would double its loops while a fan-out runs.
 */
export class ExecutorEventQueue {
  private readonly events: ExecutorEvent[] = [];
  private wakeUp: (() => void) | null = null;
  /** A finished event waits in `events` (the ones worth waking the scheduler for). */
  private finishedPending = false;

  push(event: ExecutorEvent): void {
    this.events.push(event);
    if (event.type !== 'finished') return;
    this.finishedPending = true;
    const wake = this.wakeUp;
    this.wakeUp = null;
    wake?.();
  }

  drain(): ExecutorEvent[] {
    this.finishedPending = false;
    return this.events.splice(0, this.events.length);
  }

  /** Resolves true as soon as a finished event is pending, false after maxWaitMs without one. */
  waitForFinished(maxWaitMs: number): Promise<boolean> {
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
}
