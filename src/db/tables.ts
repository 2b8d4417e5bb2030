/**
 * Row types of the metadata database, as Kysely sees them. Conventions that hold on all three
 * dialects, so that no caller branches on the database:
 *  - instants are BIGINT milliseconds since the Unix epoch (UTC); no TIMESTAMP columns, so MySQL's
 *    explicit_defaults_for_timestamp and time zone settings cannot change them;
 *  - flags are SMALLINT 0/1;
 *  - JSON is stored as text and parsed by the caller;
 *  - identifiers (dag_id, task_id, run_id …) are ASCII, 250 characters, compared case-sensitively.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Millis = number;
type Flag = number;
type Json = string;
/** A column the database fills in (autoincrement id). */
type Id = Generated<number>;

import type { DagRunState, DagRunType, JobState, TaskInstanceState } from '../core/states.js';

export type { DagRunState, DagRunType, JobState, TaskInstanceState } from '../core/states.js';

export interface DagTable {
  dag_id: string;
  fileloc: string;
  owners: string;
  description: string | null;
  is_paused: Flag;
  /** 0 once the DAG's file no longer defines it. */
  is_active: Flag;
  has_import_errors: Flag;
  /** Human text of the schedule ("0 0 * * *", "@daily", "PT1H", null for manual). */
  schedule_interval: string | null;
  timetable_description: string | null;
  max_active_runs: number;
  max_active_tasks: number;
  last_parsed_time: Millis | null;
  next_dagrun: Millis | null;
  next_dagrun_data_interval_start: Millis | null;
  next_dagrun_data_interval_end: Millis | null;
  next_dagrun_create_after: Millis | null;
}

export interface DagTagTable {
  dag_id: string;
  name: string;
}

export interface SerializedDagTable {
  dag_id: string;
  fileloc: string;
  /** JSON of SerializedDag (src/dag/serialized.ts). */
  data: Json;
  /** Hash of `data`, to skip unchanged writes and detect changes cheaply. */
  dag_hash: string;
  last_updated: Millis;
}

export interface DagCodeTable {
  fileloc: string;
  source_code: string;
  /** sha256 of the file (combined with its local modules' when it has any), to re-parse only changed files. */
  source_hash: string;
  /** JSON array of the local modules the file imports (absolute paths); null when none. */
  dependencies: string | null;
  last_updated: Millis;
}

/** A DAG-level callback the scheduler asked for; the DAG processor runs it, then deletes the row. */
export interface CallbackRequestTable {
  id: Generated<number>;
  created_at: Millis;
  dag_id: string;
  run_id: string;
  fileloc: string;
  callback: DagCallbackName;
  /** Airflow's reason: success, task_failure, timed_out, all_tasks_deadlocked. */
  reason: string | null;
}

export type DagCallbackName = 'on_success_callback' | 'on_failure_callback';

export interface ImportErrorTable {
  id: Id;
  timestamp: Millis;
  filename: string;
  stacktrace: string;
}

export interface DagRunTable {
  id: Id;
  dag_id: string;
  run_id: string;
  run_type: DagRunType;
  state: DagRunState;
  logical_date: Millis;
  data_interval_start: Millis | null;
  data_interval_end: Millis | null;
  queued_at: Millis | null;
  start_date: Millis | null;
  end_date: Millis | null;
  external_trigger: Flag;
  conf: Json | null;
  last_scheduling_decision: Millis | null;
  creating_job_id: number | null;
  /** Version counter for optimistic updates. */
  updated_at: Millis;
}

export interface TaskInstanceTable {
  dag_id: string;
  run_id: string;
  task_id: string;
  /** -1 for an unmapped task. */
  map_index: number;
  state: TaskInstanceState | null;
  try_number: number;
  max_tries: number;
  start_date: Millis | null;
  end_date: Millis | null;
  /** Seconds. */
  duration: number | null;
  hostname: string | null;
  unixname: string | null;
  pid: number | null;
  job_id: number | null;
  pool: string;
  pool_slots: number;
  queue: string;
  priority_weight: number;
  operator: string | null;
  queued_dttm: Millis | null;
  queued_by_job_id: number | null;
  /** When a task in up_for_retry / up_for_reschedule may run again. */
  next_retry_at: Millis | null;
  external_executor_id: string | null;
  /** JSON of the rendered templated fields of the last try. */
  rendered_fields: Json | null;
  updated_at: Millis;
}

export interface TaskRescheduleTable {
  id: Id;
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  try_number: number;
  start_date: Millis;
  end_date: Millis;
  duration: number;
  reschedule_date: Millis;
}

export interface XcomTable {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  key: string;
  value: Json;
  timestamp: Millis;
}

/** The audit log ("log" in Airflow). */
export interface LogTable {
  id: Id;
  dttm: Millis;
  dag_id: string | null;
  task_id: string | null;
  map_index: number | null;
  run_id: string | null;
  event: string;
  owner: string | null;
  extra: string | null;
}

export interface JobTable {
  id: Id;
  dag_id: string | null;
  state: JobState;
  /** SchedulerJob, LocalTaskJob, WorkerJob, DagProcessorJob, TriggererJob. */
  job_type: string;
  start_date: Millis;
  end_date: Millis | null;
  latest_heartbeat: Millis;
  executor_class: string | null;
  hostname: string;
  unixname: string | null;
  pid: number | null;
  /** The try a LocalTaskJob ran (null for other job types, and for rows older than migration 0007). */
  run_id: string | null;
  task_id: string | null;
  map_index: number | null;
  try_number: number | null;
}

export interface VariableTable {
  id: Id;
  key: string;
  val: string;
  description: string | null;
  is_encrypted: Flag;
}

export interface ConnectionTable {
  id: Id;
  conn_id: string;
  conn_type: string;
  description: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  /** Fernet token when is_encrypted = 1. */
  password: string | null;
  port: number | null;
  extra: string | null;
  is_encrypted: Flag;
  is_extra_encrypted: Flag;
}

export interface SlotPoolTable {
  id: Id;
  pool: string;
  slots: number;
  description: string | null;
  include_deferred: Flag;
}

export interface UserTable {
  id: Id;
  username: string;
  first_name: string;
  last_name: string;
  email: string;
  /** scrypt hash (security/password.ts); never the password. */
  password: string;
  active: Flag;
  created_on: Millis;
  changed_on: Millis;
  last_login: Millis | null;
  login_count: number;
  fail_login_count: number;
}

export interface RoleTable {
  id: Id;
  name: string;
}

export interface UserRoleTable {
  user_id: number;
  role_id: number;
}

/** Sign-in attempts per counter key and one-minute window (web/auth/rate-limit.ts). */
export interface LoginAttemptTable {
  counter_key: string;
  window_start: Millis;
  attempts: number;
}

/** A signed-in browser session; the cookie names `session_id` (web/auth/session-store.ts). */
export interface SessionTable {
  id: Id;
  session_id: string;
  user_id: number;
  expiry: Millis;
}

export interface Database {
  dag: DagTable;
  dag_tag: DagTagTable;
  serialized_dag: SerializedDagTable;
  dag_code: DagCodeTable;
  callback_request: CallbackRequestTable;
  import_error: ImportErrorTable;
  dag_run: DagRunTable;
  task_instance: TaskInstanceTable;
  task_reschedule: TaskRescheduleTable;
  xcom: XcomTable;
  log: LogTable;
  job: JobTable;
  variable: VariableTable;
  connection: ConnectionTable;
  slot_pool: SlotPoolTable;
  ab_user: UserTable;
  ab_role: RoleTable;
  ab_user_role: UserRoleTable;
  login_attempt: LoginAttemptTable;
  session: SessionTable;
}

export type DagRow = Selectable<DagTable>;
export type DagRunRow = Selectable<DagRunTable>;
export type NewDagRun = Insertable<DagRunTable>;
export type TaskInstanceRow = Selectable<TaskInstanceTable>;
export type NewTaskInstance = Insertable<TaskInstanceTable>;
export type TaskInstanceUpdate = Updateable<TaskInstanceTable>;
export type JobRow = Selectable<JobTable>;
export type UserRow = Selectable<UserTable>;
export type ConnectionRow = Selectable<ConnectionTable>;
export type VariableRow = Selectable<VariableTable>;
export type PoolRow = Selectable<SlotPoolTable>;
export type ImportErrorRow = Selectable<ImportErrorTable>;
export type XcomRow = Selectable<XcomTable>;
export type LogRow = Selectable<LogTable>;
// Re-exported so callers need not import kysely for column helpers.
export type { ColumnType };
