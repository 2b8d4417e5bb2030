/** The DAG authoring API (re-exported by the package entry point). */
export { DAG, dag, isDag, collectDags, findCycle, type DagArgs, type DagCallback } from './dag.js';
export {
  BaseOperator,
  type BaseOperatorArgs,
  type DefaultArgs,
  type DependencyNode,
  type DependencyTarget,
  type TaskCallback,
} from './base-operator.js';
export { TaskGroup, taskGroup, type TaskGroupArgs } from './task-group.js';
export { chain, crossDownstream } from './dependencies.js';
export { type Duration, durationToMs } from './duration.js';
export {
  setAuthoringDefaults,
  getAuthoringDefaults,
  authoringDefaultsFromConfig,
  type AuthoringDefaults,
} from './defaults.js';
export { Param, validateParams, serializeParams } from './params.js';
export { parseSchedule, scheduleText, describeSchedule, SCHEDULE_PRESETS, PRESET_CRON } from './schedule.js';
export {
  TRIGGER_RULES,
  SERIALIZATION_VERSION,
  type SerializedDag,
  type SerializedTask,
  type ScheduleSpec,
} from './serialized.js';
export * from './execution.js';
export { macros, type Macros } from './macros.js';
export {
  renderTemplates,
  renderString,
  renderValue,
  evaluateExpression,
  checkTemplateSyntax,
  templateScope,
  formatDate,
} from './templates.js';
export { XComArg, isXComArg, resolveXComArgs } from './xcom-arg.js';
export { MappedOperator, PartialOperator, partial, MAX_MAP_LENGTH, type ExpandInput } from './mapped.js';
export {
  task,
  TaskFlowOperator,
  TaskFlowSensor,
  type TaskFlowFunction,
  type TaskFlowOptions,
  type Arg,
} from './taskflow.js';
export { EmptyOperator, DummyOperator } from './operators/empty.js';
export { BashOperator, runBash, type BashOperatorArgs } from './operators/bash.js';
export {
  FunctionOperator,
  PythonOperator,
  BranchFunctionOperator,
  BranchPythonOperator,
  ShortCircuitOperator,
  type FunctionOperatorArgs,
  type TaskFunction,
} from './operators/function.js';
export { BaseBranchOperator, BranchOperator, type BranchOperatorArgs } from './operators/branch.js';
export { TriggerDagRunOperator, type TriggerDagRunOperatorArgs } from './operators/trigger-dagrun.js';
export { HttpOperator, SimpleHttpOperator, type HttpOperatorArgs } from './operators/http.js';
export {
  BaseSensorOperator,
  BaseSensor,
  FunctionSensor,
  PythonSensor,
  type BaseSensorArgs,
  type PokeResult,
} from './sensors/base.js';
export { FileSensor, TimeDeltaSensor, DateTimeSensor, HttpSensor } from './sensors/simple.js';
export { ExternalTaskSensor, ExternalTaskMarker } from './sensors/external-task.js';

import { TRIGGER_RULES as RULES } from './serialized.js';
export type TriggerRule = import('./serialized.js').TriggerRule;
/** Trigger rules as constants: `TriggerRule.ALL_DONE` === 'all_done' (Airflow's TriggerRule enum). */
export const TriggerRule = Object.fromEntries(RULES.map((r) => [r.toUpperCase(), r])) as {
  readonly [K in (typeof RULES)[number] as Uppercase<K>]: K;
};
