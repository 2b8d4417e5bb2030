import type { MetadataDb } from '../open.js';
import type { JobState, TaskInstanceState, TaskInstanceUpdate } from '../tables.js';
import { beatTaskJob, endTaskJob } from './job-queries.js';
import {
  queueBatch,
  requeueTaskInstance,
  type QueueBatchOptions,
  type QueueCandidate,
  type QueueChooser,
} from './queue-batch.js';
import type { TaskInstanceKeyLike } from './ti-queries.js';
import { claimTry, finishTry, type ClaimTryInfo, type XComWrite } from './try-transactions.js';

/**
 * What the scheduler and the task runner do to task instances, their tries' job rows and XComs on
 * the hot paths. Callers see these operations only; how each is sent (one transaction, a MySQL
 * statement batch, a multi-table UPDATE, precompiled query templates) is this module's business
 * and is chosen here from the database's dialect and abilities. A worker on another host uses the
 * same store to claim and finish its tries.
 */
export interface TaskInstanceStore {
  /**
   * Start a try: the job row, the guarded claim (queued/scheduled → running at this try number),
   * the rendered fields and the reset of the last try's XComs, all or nothing. The new job id, or
   * null (nothing written) when the TI is not this runner's to run.
   */
  claimTry(key: TaskInstanceKeyLike, info: ClaimTryInfo): Promise<number | null>;
  /**
   * End a try: its XComs, the final state (only if the TI still runs this try) and its job row,
   * all or nothing. False (nothing written) when someone changed the TI while it ran.
   */
  finishTry(
    key: TaskInstanceKeyLike,
    update: TaskInstanceUpdate & { state: TaskInstanceState },
    options: { jobId: number; xcoms: readonly XComWrite[] },
  ): Promise<boolean>;
  /** One heartbeat of a try's job row. */
  heartbeat(jobId: number): Promise<void>;
  /** Close a try's job row. */
  endJob(jobId: number, state: JobState): Promise<void>;
  /** The scheduler's queue step: pick (with `chooser`) and queue one batch of scheduled TIs. */
  queueBatch(chooser: QueueChooser, options: QueueBatchOptions): Promise<QueueCandidate[]>;
  /** Put a TI the executor refused back from queued to scheduled. */
  requeue(ti: QueueCandidate, now: number): Promise<void>;
}

/** The store over a metadata database (one per MetadataDb is enough; it holds no state). */
export function taskInstanceStore(db: MetadataDb): TaskInstanceStore {
  return {
    claimTry: (key, info) => claimTry(db, key, info),
    finishTry: (key, update, options) => finishTry(db, key, update, options),
    heartbeat: (jobId) => beatTaskJob(db.kysely, jobId),
    endJob: (jobId, state) => endTaskJob(db.kysely, jobId, state),
    queueBatch: (chooser, options) => queueBatch(db, chooser, options),
    requeue: (ti, now) => requeueTaskInstance(db.kysely, ti, now),
  };
}
