import type { TaskServices } from '../dag/execution.js';
import { triggerDagRun } from './trigger.js';
import type { OpsContext } from './types.js';

/**
 * The `triggerDagRun` service a running task gets (TriggerDagRunOperator), backed by the same
 * triggerDagRun operation as the CLI and the API, so conf and params are validated alike.
 */
export function taskTriggerService(ctx: OpsContext): TaskServices['triggerDagRun'] {
  return async (request) => {
    const run = await triggerDagRun(ctx, request.dagId, {
      conf: request.conf ?? null,
      runId: request.runId,
      logicalDate: request.logicalDate?.getTime(),
    });
    return { runId: run.run_id };
  };
}
