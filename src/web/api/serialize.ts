import type {
  DagRow,
  DagRunRow,
  ImportErrorRow,
  JobRow,
  LogRow,
  TaskInstanceRow,
  XcomRow,
} from '../../db/tables.js';
import type { SerializedTask } from '../../dag/serialized.js';
import type { SecretsMasker } from '../../security/secrets-masker.js';
import type { UserInfo } from '../../users/index.js';

/** Rows to the JSON shapes of Airflow's stable REST API (ISO-8601 instants, snake_case). */
export const iso = (ms: number | null | undefined): string | null =>
  ms == null ? null : new Date(Number(ms)).toISOString();

function parseJson(text: string | null): unknown {
  if (text == null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function scheduleInterval(text: string | null): { __type: string; value: string } | null {
  if (!text) return null;
  if (/^P/.test(text)) return { __type: 'TimeDelta', value: text };
  return { __type: 'CronExpression', value: text };
}

export function dagJson(d: DagRow, tags: string[]) {
  return {
    dag_id: d.dag_id,
    root_dag_id: null,
    is_paused: !!d.is_paused,
    is_active: !!d.is_active,
    is_subdag: false,
    last_parsed_time: iso(d.last_parsed_time),
    fileloc: d.fileloc,
    owners: d.owners
      ? d.owners
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean)
      : [],
    description: d.description,
    schedule_interval: scheduleInterval(d.schedule_interval),
    timetable_description: d.timetable_description,
    tags: tags.map((name) => ({ name })),
    max_active_runs: d.max_active_runs,
    max_active_tasks: d.max_active_tasks,
    has_import_errors: !!d.has_import_errors,
    next_dagrun: iso(d.next_dagrun),
    next_dagrun_data_interval_start: iso(d.next_dagrun_data_interval_start),
    next_dagrun_data_interval_end: iso(d.next_dagrun_data_interval_end),
    next_dagrun_create_after: iso(d.next_dagrun_create_after),
  };
}

export function dagRunJson(r: DagRunRow) {
  return {
    dag_run_id: r.run_id,
    dag_id: r.dag_id,
    logical_date: iso(r.logical_date),
    execution_date: iso(r.logical_date),
    start_date: iso(r.start_date),
    end_date: iso(r.end_date),
    data_interval_start: iso(r.data_interval_start),
    data_interval_end: iso(r.data_interval_end),
    last_scheduling_decision: iso(r.last_scheduling_decision),
    run_type: r.run_type,
    state: r.state,
    external_trigger: !!r.external_trigger,
    conf: parseJson(r.conf) ?? {},
    note: null,
  };
}

/** `masker` hides secrets in the rendered fields (written before masking, or by another process). */
export function taskInstanceJson(t: TaskInstanceRow, masker: SecretsMasker) {
  return {
    task_id: t.task_id,
    dag_id: t.dag_id,
    dag_run_id: t.run_id,
    map_index: t.map_index,
    state: t.state,
    try_number: t.try_number,
    max_tries: t.max_tries,
    start_date: iso(t.start_date),
    end_date: iso(t.end_date),
    duration: t.duration,
    hostname: t.hostname ?? '',
    unixname: t.unixname ?? '',
    pid: t.pid,
    pool: t.pool,
    pool_slots: t.pool_slots,
    queue: t.queue,
    priority_weight: t.priority_weight,
    operator: t.operator,
    queued_when: iso(t.queued_dttm),
    rendered_fields: masker.redactValue(parseJson(t.rendered_fields) ?? {}),
  };
}

export function taskJson(t: SerializedTask, downstream: string[]) {
  return {
    task_id: t.taskId,
    owner: t.owner,
    operator_name: t.operator,
    class_ref: { class_name: t.operator, module_path: 'updraft' },
    trigger_rule: t.triggerRule,
    retries: t.retries,
    retry_delay: {
      __type: 'TimeDelta',
      days: 0,
      seconds: Math.round(t.retryDelayMs / 1000),
      microseconds: 0,
    },
    retry_exponential_backoff: t.retryExponentialBackoff,
    pool: t.pool,
    pool_slots: t.poolSlots,
    priority_weight: t.priorityWeight,
    weight_rule: t.weightRule,
    queue: t.queue,
    depends_on_past: t.dependsOnPast,
    template_fields: t.templateFields,
    is_mapped: t.mapped !== null,
    ui_color: t.uiColor ?? '#fff',
    doc_md: t.doc,
    downstream_task_ids: downstream,
    execution_timeout:
      t.executionTimeoutMs == null
        ? null
        : { __type: 'TimeDelta', days: 0, seconds: Math.round(t.executionTimeoutMs / 1000), microseconds: 0 },
  };
}

export function xcomJson(x: XcomRow, withValue: boolean) {
  return {
    key: x.key,
    timestamp: iso(x.timestamp),
    execution_date: null,
    task_id: x.task_id,
    dag_id: x.dag_id,
    map_index: x.map_index,
    ...(withValue ? { value: x.value } : {}),
  };
}

export function importErrorJson(e: ImportErrorRow) {
  return {
    import_error_id: e.id,
    timestamp: iso(e.timestamp),
    filename: e.filename,
    stack_trace: e.stacktrace,
  };
}

export function eventLogJson(l: LogRow) {
  return {
    event_log_id: l.id,
    when: iso(l.dttm),
    dag_id: l.dag_id,
    task_id: l.task_id,
    run_id: l.run_id,
    map_index: l.map_index,
    event: l.event,
    execution_date: null,
    owner: l.owner,
    extra: l.extra,
  };
}

export function jobJson(j: JobRow) {
  return {
    id: j.id,
    dag_id: j.dag_id,
    state: j.state,
    job_type: j.job_type,
    start_date: iso(j.start_date),
    end_date: iso(j.end_date),
    latest_heartbeat: iso(j.latest_heartbeat),
    executor_class: j.executor_class,
    hostname: j.hostname,
    unixname: j.unixname,
  };
}

export function userJson(u: UserInfo) {
  return {
    username: u.username,
    email: u.email,
    first_name: u.firstName,
    last_name: u.lastName,
    roles: u.roles.map((name) => ({ name })),
    active: u.active,
    created_on: iso(u.createdOn),
    last_login: iso(u.lastLogin),
    login_count: u.loginCount,
    failed_login_count: u.failLoginCount,
  };
}
