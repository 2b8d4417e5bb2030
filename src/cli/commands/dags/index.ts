import type { RegisterCommand } from '../../command-kit.js';
import { registerDagInspection } from './inspect.js';
import { registerDagRuns } from './runs.js';

/**
 * `updraft dags …`: reading DAGs (list, show, details, reserialize, list-import-errors:
 * inspect.ts) and acting on their runs (trigger, pause, list-runs, state, next-execution, test,
 * backfill, delete: runs.ts).
 */
export const registerDags: RegisterCommand = (program, cli) => {
  registerDagInspection(program, cli);
  registerDagRuns(program, cli);
};
