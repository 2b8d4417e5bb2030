/**
 * Installation-wide defaults that DAG files do not set themselves (from airflow.cfg). The DAG
 * processor's worker and the task runner install them from their configuration before importing
 * DAG files; values are read lazily at validation/serialization time, so install order does not
 * matter as long as it happens before `serialize()`.
 */
import { DEFAULT_POOL } from '../core/pools.js';

export interface AuthoringDefaults {
  owner: string;
  queue: string;
  pool: string;
  retries: number;
  catchup: boolean;
  timezone: string;
  maxActiveRuns: number;
  maxActiveTasks: number;
}

const BUILT_IN: AuthoringDefaults = {
  owner: 'airflow',
  queue: 'default',
  pool: DEFAULT_POOL,
  retries: 0,
  catchup: true,
  timezone: 'UTC',
  maxActiveRuns: 16,
  maxActiveTasks: 16,
};

// Kept on globalThis so that two copies of this module (src and dist) share one value.
const KEY = Symbol.for('updraft.authoringDefaults');
type Holder = { [KEY]?: AuthoringDefaults };

export function setAuthoringDefaults(values: Partial<AuthoringDefaults>): void {
  (globalThis as Holder)[KEY] = { ...getAuthoringDefaults(), ...values };
}

export function getAuthoringDefaults(): AuthoringDefaults {
  return (globalThis as Holder)[KEY] ?? BUILT_IN;
}

/** The defaults from a loaded configuration (kept structural to avoid importing config here). */
export function authoringDefaultsFromConfig(values: {
  core: {
    default_timezone: string;
    max_active_runs_per_dag: number;
    max_active_tasks_per_dag: number;
    default_task_retries: number;
  };
  scheduler: { catchup_by_default: boolean };
  operators: { default_owner: string; default_queue: string };
}): AuthoringDefaults {
  const tz = values.core.default_timezone;
  return {
    owner: values.operators.default_owner,
    queue: values.operators.default_queue,
    pool: DEFAULT_POOL,
    retries: values.core.default_task_retries,
    catchup: values.scheduler.catchup_by_default,
    timezone: tz.toLowerCase() === 'utc' ? 'UTC' : tz,
    maxActiveRuns: values.core.max_active_runs_per_dag,
    maxActiveTasks: values.core.max_active_tasks_per_dag,
  };
}
