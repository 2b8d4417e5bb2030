/**
 * The serialized form of a DAG: the contract between the DAG processor (which writes it to
 * `serialized_dag.data`), the scheduler and the webserver (which read it and never import user
 * code). Plain JSON: durations in milliseconds, instants as ISO-8601 strings.
 * Bump SERIALIZATION_VERSION on any incompatible change.
 */
export const SERIALIZATION_VERSION = 1;

export type TriggerRule =
  | 'all_success'
  | 'all_failed'
  | 'all_done'
  | 'all_skipped'
  | 'one_success'
  | 'one_failed'
  | 'one_done'
  | 'none_failed'
  | 'none_failed_min_one_success'
  | 'none_skipped'
  | 'always';

export const TRIGGER_RULES: readonly TriggerRule[] = [
  'all_success',
  'all_failed',
  'all_done',
  'all_skipped',
  'one_success',
  'one_failed',
  'one_done',
  'none_failed',
  'none_failed_min_one_success',
  'none_skipped',
  'always',
];

export type WeightRule = 'downstream' | 'upstream' | 'absolute';

export type SchedulePresetName =
  '@once' | '@hourly' | '@daily' | '@weekly' | '@monthly' | '@quarterly' | '@yearly';

/** When runs are created. `null` schedule (no entry) means manual runs only. */
export type ScheduleSpec =
  | { kind: 'cron'; expression: string }
  | { kind: 'preset'; name: SchedulePresetName }
  /** A fixed interval (a duration such as `{ hours: 1 }` in the authoring API). */
  | { kind: 'interval'; everyMs: number };

export interface ParamSpec {
  default?: unknown;
  description?: string;
  /** JSON schema the value must satisfy (validated with ajv). */
  schema?: Record<string, unknown>;
}

export interface SensorSpec {
  mode: 'poke' | 'reschedule';
  pokeIntervalMs: number;
  timeoutMs: number;
  softFail: boolean;
  exponentialBackoff: boolean;
}

export interface SerializedTask {
  taskId: string;
  /** Operator class name, shown in the UI (BashOperator, EmptyOperator, _PythonDecoratedOperator…). */
  operator: string;
  /** Direct upstream task ids. Downstream is derived. */
  upstream: string[];
  owner: string;
  triggerRule: TriggerRule;
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
  executionTimeoutMs: number | null;
  pool: string;
  poolSlots: number;
  priorityWeight: number;
  weightRule: WeightRule;
  queue: string;
  dependsOnPast: boolean;
  /** Names of fields rendered with templates before execute. */
  templateFields: string[];
  /** Field values as declared (templates unrendered), for the UI's "rendered" view fallback. */
  templateValues?: Record<string, unknown>;
  /** The scheduler marks it success without an executor (EmptyOperator). */
  isEmpty: boolean;
  /** Branch operators: the runner returns the task ids to follow; others downstream are skipped. */
  isBranch: boolean;
  /** Short-circuit: a falsy result skips everything downstream. */
  isShortCircuit: boolean;
  sensor: SensorSpec | null;
  /** Dynamic task mapping: expanded at run time from literal lists or upstream XComs. */
  mapped: {
    expandKeys: string[];
    /**
     * Where each expanded argument comes from, so the scheduler can count instances without user
     * code: a literal list of `length` items, or the XCom `key` of upstream task `taskId` (a list).
     * The instance count is the product over all keys.
     */
    sources?: Record<
      string,
      { kind: 'literal'; length: number } | { kind: 'xcom'; taskId: string; key: string }
    >;
  } | null;
  /** Task group path, e.g. "section_1.inner" (the task id already carries it as a prefix). */
  groupId: string | null;
  doc: string | null;
  /** Colour hints for the UI. */
  uiColor: string | null;
  hasCallbacks: { onSuccess: boolean; onFailure: boolean; onRetry: boolean; onExecute: boolean };
}

export interface SerializedTaskGroup {
  groupId: string;
  tooltip: string | null;
  children: string[];
}

export interface SerializedDag {
  version: typeof SERIALIZATION_VERSION;
  dagId: string;
  fileloc: string;
  description: string | null;
  docMd: string | null;
  owner: string;
  tags: string[];
  schedule: ScheduleSpec | null;
  /** IANA zone of the schedule (from startDate's zone or core.default_timezone). */
  timezone: string;
  startDate: string | null;
  endDate: string | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  dagrunTimeoutMs: number | null;
  isPausedUponCreation: boolean | null;
  params: Record<string, ParamSpec>;
  tasks: SerializedTask[];
  taskGroups: SerializedTaskGroup[];
  hasCallbacks: { onSuccess: boolean; onFailure: boolean };
}
