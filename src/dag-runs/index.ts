/** Operations on DAG runs and task instances, shared by the CLI, the webserver and the scheduler. */
export { createDagRun, insertTaskInstances, type CreateDagRunInput } from './create-dag-run.js';
export { triggerDagRun, parseConf, type TriggerOptions } from './trigger.js';
export { pausedRunNotice, setDagPaused } from './pause.js';
export { clearTaskInstances, type ClearOptions } from './clear.js';
export {
  setTaskInstanceState,
  setDagRunState,
  UNFINISHED_TI_STATES,
  type MarkTaskOptions,
} from './set-state.js';
export { deleteDag } from './delete-dag.js';
export { findSerializedDag, getSerializedDag, getDagRow } from './load-dag.js';
export { runIdFor, checkRunId, parseDate } from './run-id.js';
export { priorityWeights, downstreamMap, taskMap } from './priority.js';
export { relatives } from './graph.js';
