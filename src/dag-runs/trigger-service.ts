import type { TaskServices } from '../dag/execution.js';
import { triggerDagRun } from './trigger.js';
import type { MetadataDb } from '../db/index.js';

/**
 * The `triggerDagRun` service a running task gets (TriggerDagRunOperator), backed by the same
 * triggerDagRun operation as the CLI and the API, so conf and params are validated alike.
 */
export function taskTriggerService(store: MetadataDb): TaskServices['triggerDagRun'] {
  return async (request) => {
    const run = await triggerDagRun(store, request.dagId, {
      conf: request.conf ?? null,
      runId: request.runId,
      logicalDate: request.logicalDate?.getTime(),
    });
    return { runId: run.run_id };
  };
}
