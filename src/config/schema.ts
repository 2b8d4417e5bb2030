/**
 * The configuration schema: every section and key Updraft reads, with Airflow's names, types and
 * defaults. One table drives parsing, validation, `config list`, and the commented default
 * airflow.cfg that a first run writes.
 */

export type Placeholders = { AIRFLOW_HOME: string };

interface BaseSpec<T> {
  readonly doc: string;
  /** A literal default, or one derived from AIRFLOW_HOME. */
  readonly default: T | ((p: Placeholders) => T);
  /** Sensitive values are masked by `config list` and may come from `_cmd` in the file. */
  readonly sensitive?: boolean;
}
export interface StringSpec extends BaseSpec<string> {
  readonly type: 'string';
}
export interface IntSpec extends BaseSpec<number> {
  readonly type: 'int';
  readonly min?: number;
  readonly max?: number;
}
export interface FloatSpec extends BaseSpec<number> {
  readonly type: 'float';
  readonly min?: number;
}
export interface BoolSpec extends BaseSpec<boolean> {
  readonly type: 'bool';
}
export interface EnumSpec<T extends string = string> extends BaseSpec<T> {
  readonly type: 'enum';
  readonly values: readonly T[];
}
export interface ListSpec extends BaseSpec<string[]> {
  readonly type: 'list';
}
export type KeySpec = StringSpec | IntSpec | FloatSpec | BoolSpec | EnumSpec | ListSpec;

const str = (def: StringSpec['default'], doc: string, extra: Partial<StringSpec> = {}): StringSpec => ({
  type: 'string',
  default: def,
  doc,
  ...extra,
});
const int = (def: number, doc: string, extra: Partial<IntSpec> = {}): IntSpec => ({
  type: 'int',
  default: def,
  doc,
  ...extra,
});
const float = (def: number, doc: string, extra: Partial<FloatSpec> = {}): FloatSpec => ({
  type: 'float',
  default: def,
  doc,
  ...extra,
});
const bool = (def: boolean, doc: string): BoolSpec => ({ type: 'bool', default: def, doc });
const oneOf = <T extends string>(values: readonly T[], def: T, doc: string): EnumSpec<T> => ({
  type: 'enum',
  values,
  default: def,
  doc,
});
const list = (def: string[], doc: string): ListSpec => ({ type: 'list', default: def, doc });

export const EXECUTORS = ['SequentialExecutor', 'LocalExecutor', 'CeleryExecutor', 'RedisExecutor'] as const;
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;

export const configSchema = {
  core: {
    dags_folder: str((p) => `${p.AIRFLOW_HOME}/dags`, 'Folder where DAG files (.ts, .mts, .js, .mjs) live.'),
    executor: oneOf(
      EXECUTORS,
      'SequentialExecutor',
      'How tasks run: SequentialExecutor (one at a time), LocalExecutor (parallel child processes), ' +
        'CeleryExecutor or RedisExecutor (distributed workers with Redis as broker; the two names are the same executor).',
    ),
    default_timezone: str(
      'utc',
      'Time zone of naive dates in DAGs (an IANA name such as Europe/Berlin, or utc).',
    ),
    parallelism: int(32, 'Task instances that may run at once across the installation.', { min: 1 }),
    max_active_tasks_per_dag: int(16, 'Default for a DAG’s maxActiveTasks.', { min: 1 }),
    max_active_runs_per_dag: int(16, 'Default for a DAG’s maxActiveRuns.', { min: 1 }),
    dags_are_paused_at_creation: bool(true, 'New DAGs start paused.'),
    load_examples: bool(true, 'Load the bundled example DAGs.'),
    fernet_key: str('', 'Key that encrypts connection passwords and variables (generated on first run).', {
      sensitive: true,
    }),
    hide_sensitive_var_conn_fields: bool(
      true,
      'Mask connection passwords and variables with sensitive-looking keys as *** in task logs, rendered fields, XCom views and error messages.',
    ),
    sensitive_var_conn_names: list(
      [],
      'More key fragments (comma-separated) that make a variable or connection extra field sensitive, besides password, secret, passwd, authorization, api_key, apikey, access_token, private_key, token ….',
    ),
    dagbag_import_timeout: float(
      30,
      'Seconds a DAG file may take to load before it becomes an import error.',
      {
        min: 0,
      },
    ),
    dag_file_processor_timeout: float(50, 'Seconds one DAG processing pass over a file may take.', {
      min: 0,
    }),
    default_task_retries: int(0, 'Retries of a task that sets none.', { min: 0 }),
    default_task_retry_delay: int(300, 'Seconds between retries of a task that sets none.', { min: 0 }),
    max_map_length: int(1024, 'Most mapped task instances one expand() may create.', { min: 1 }),
    killed_task_cleanup_time: int(60, 'Seconds a killed task gets after SIGTERM before SIGKILL.', { min: 0 }),
    task_runner_max_old_space_size: int(
      1024,
      'Heap limit in MB of each task process (node --max-old-space-size); a task that exceeds it fails alone.',
      { min: 16 },
    ),
    task_runner_warm_processes: int(
      2,
      'Task processes the local executors keep started and idle, ready for the next task.',
      { min: 0 },
    ),
    task_runner_max_tasks_per_process: int(
      0,
      'Tasks one warm task process runs before it is replaced (0: no limit; a process is replaced anyway once a task leaves something behind or its heap or buffers grow past half of task_runner_max_old_space_size).',
      { min: 0 },
    ),
    task_runner_cache_dag_files: bool(
      true,
      'A warm task process imports each DAG file version once and runs a fresh copy of the operator for every try (module-level state of the file then lasts for the life of the process). False: every try imports the file afresh.',
    ),
    hostname: str('', 'Host name recorded on task instances and jobs (blank: the machine’s).'),
    sql_alchemy_conn: str('', 'Deprecated: use [database] sql_alchemy_conn.', { sensitive: true }),
  },
  database: {
    sql_alchemy_conn: str(
      (p) => `sqlite:///${p.AIRFLOW_HOME}/airflow.db`,
      'Metadata database URL: sqlite:///PATH, mysql://USER:PASS@HOST:PORT/DB (also mysql+pymysql://, ' +
        'mysql+mysqldb://) or postgresql://USER:PASS@HOST:PORT/DB. A server on this host through its Unix ' +
        'socket: mysql://USER:PASS@localhost/DB?unix_socket=/run/mysqld/mysqld.sock, ' +
        'postgresql://USER:PASS@/DB?host=/var/run/postgresql.',
      { sensitive: true },
    ),
    sql_alchemy_pool_size: int(5, 'Connections kept open per process (MySQL and PostgreSQL).', { min: 1 }),
    max_db_retries: int(
      3,
      'Times opening a database connection is retried (0.5 s, 1 s, 2 s … apart) while the server is unreachable, before the operation that needed it fails (as Airflow retries DB operational errors). Every process and command; what a task must record retries for outage_retry_seconds instead.',
      { min: 0 },
    ),
    outage_retry_seconds: int(
      120,
      'Seconds a task keeps retrying its start-up (a task process opening the database, reading and claiming its try) and the writes that record its outcome (finish, heartbeat, job end) while the database is unreachable, so a try that starts or finishes during an outage is neither lost nor failed by it.',
      { min: 0 },
    ),
  },
  logging: {
    base_log_folder: str((p) => `${p.AIRFLOW_HOME}/logs`, 'Folder for task logs.'),
    logging_level: oneOf(LOG_LEVELS, 'INFO', 'Log level of the services.'),
    worker_log_server_port: int(8793, 'Port on which workers serve task logs to the webserver.', {
      min: 1,
      max: 65535,
    }),
  },
  api: {
    auth_backends: list(
      ['airflow.api.auth.backend.session'],
      'Comma-separated REST API auth backends: airflow.api.auth.backend.basic_auth, ' +
        'airflow.api.auth.backend.session, airflow.api.auth.backend.deny_all (updraft.* spellings too).',
    ),
    auth_backend: str('', 'Deprecated singular form of auth_backends.'),
    maximum_page_limit: int(100, 'Largest page a REST API list returns.', { min: 1 }),
    fallback_page_limit: int(100, 'Page size when a request sets no limit.', { min: 1 }),
  },
  webserver: {
    base_url: str('http://localhost:8080', 'URL at which users reach the webserver.'),
    web_server_host: str('0.0.0.0', 'Address the webserver listens on.'),
    web_server_port: int(8080, 'Port the webserver listens on.', { min: 1, max: 65535 }),
    secret_key: str('', 'Key that signs session cookies (generated on first run; the same on every node).', {
      sensitive: true,
    }),
    expose_config: bool(false, 'Show the configuration page to admins.'),
    session_lifetime_minutes: int(43200, 'Minutes a sign-in lasts.', { min: 1 }),
    default_ui_timezone: str('UTC', 'Time zone in which the UI shows dates.'),
    instance_name: str('Updraft', 'Name shown in the page header.'),
    login_rate_limit: int(10, 'Failed sign-ins per minute per address before sign-in is refused.', {
      min: 1,
    }),
  },
  scheduler: {
    job_heartbeat_sec: float(5, 'Seconds between heartbeats of a running task.', { min: 0.1 }),
    scheduler_heartbeat_sec: float(5, 'Seconds between scheduler heartbeats.', { min: 0.1 }),
    num_runs: int(-1, 'Scheduler loops before exit (-1: forever).'),
    scheduler_idle_sleep_time: float(
      1,
      'Seconds the scheduler sleeps when it has nothing to do. A finished task ends the sleep at once, a newly queued (triggered) run within 50 ms.',
      { min: 0 },
    ),
    min_file_process_interval: float(30, 'Seconds before an unchanged DAG file is parsed again.', { min: 0 }),
    dag_dir_list_interval: float(300, 'Seconds between scans of the DAG folder for new files.', { min: 0 }),
    catchup_by_default: bool(true, 'Default for a DAG’s catchup.'),
    max_tis_per_query: int(16, 'Task instances examined per scheduling query.', { min: 1 }),
    scheduler_health_check_threshold: float(
      30,
      'Seconds without heartbeat after which the scheduler counts as down.',
      {
        min: 1,
      },
    ),
    scheduler_zombie_task_threshold: float(
      300,
      'Seconds without heartbeat after which a running task is a zombie.',
      {
        min: 1,
      },
    ),
    task_queued_timeout: float(600, 'Seconds a task may stay queued before it is failed or re-queued.', {
      min: 1,
    }),
    parsing_processes: int(2, 'DAG files parsed at once.', { min: 1 }),
    max_dagruns_to_create_per_loop: int(10, 'DAG runs created per scheduler loop.', { min: 1 }),
    schedule_after_task_execution: bool(true, 'Schedule a run’s next tasks as soon as a task finishes.'),
    standalone_dag_processor: bool(false, 'Run the DAG processor as its own service (`dag-processor`).'),
    use_row_level_locking: bool(
      true,
      'Lock rows with SELECT … FOR UPDATE SKIP LOCKED (needed for several schedulers).',
    ),
  },
  celery: {
    broker_url: str(
      'redis://127.0.0.1:6379/0',
      'Redis URL of the task queue (redis://[:PASSWORD@]HOST:PORT/DB).',
      {
        sensitive: true,
      },
    ),
    result_backend: str('', 'Accepted for Airflow compatibility; results live in the metadata DB.', {
      sensitive: true,
    }),
    worker_concurrency: int(16, 'Tasks one worker runs at once.', { min: 1 }),
    ssl_active: bool(false, 'Connect to the broker over TLS (as a rediss:// broker_url does).'),
    ssl_key: str('', 'Client key file (PEM) for a TLS broker connection.'),
    ssl_cert: str('', 'Client certificate file (PEM) for a TLS broker connection.'),
    ssl_cacert: str(
      '',
      'CA certificate file (PEM) that signed the broker’s certificate (blank: the system’s).',
    ),
    operation_timeout: float(
      1,
      'Seconds a broker connection attempt may take; a worker or scheduler that cannot reach Redis at start gives up after a few attempts.',
      { min: 0.1 },
    ),
    worker_grace_period: float(
      60,
      'Seconds a stopping worker lets its running tries finish before it ends them (they are then retried).',
      { min: 0 },
    ),
  },
  celery_broker_transport_options: {
    global_keyprefix: str(
      'updraft',
      'Prefix of every broker key in Redis, so several installations can share one Redis.',
    ),
  },
  operators: {
    default_owner: str('airflow', 'Owner of tasks that set none.'),
    default_queue: str('default', 'Queue of tasks that set none.'),
  },
} as const satisfies Record<string, Record<string, KeySpec>>;

export type ConfigSchema = typeof configSchema;
export type SectionName = keyof ConfigSchema;

type ValueOf<S> =
  S extends EnumSpec<infer T>
    ? T
    : S extends IntSpec | FloatSpec
      ? number
      : S extends BoolSpec
        ? boolean
        : S extends ListSpec
          ? string[]
          : string;

/** The validated configuration, typed from the schema: `config.core.parallelism` is a number. */
export type UpdraftConfig = {
  readonly [S in SectionName]: { readonly [K in keyof ConfigSchema[S]]: ValueOf<ConfigSchema[S][K]> };
};

export function specFor(section: string, key: string): KeySpec | undefined {
  const s = (configSchema as Record<string, Record<string, KeySpec>>)[section];
  return s?.[key];
}
