import type { AppContext } from '../context.js';
import { brokerFromConfig } from '../broker/connection.js';
import { CeleryExecutor } from './celery-executor.js';
import type { Executor } from './executor.js';
import { LocalExecutor } from './local-executor.js';
import type { ProcessPoolOptions } from '../worker/process-pool.js';

export type { Executor, ExecutorEvent, TaskInstanceKey, TaskWorkItem } from './executor.js';
export { LocalExecutor, keyString } from './local-executor.js';
export { CeleryExecutor } from './celery-executor.js';

export interface CreateExecutorOptions {
  /** Environment of the task processes (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Override core.parallelism (tests, `dags test`). */
  parallelism?: number;
}

/**
 * The executor named by core.executor. Task processes load their configuration themselves; the
 * values that matter for where they write are passed explicitly so that they always match this
 * process's configuration, whatever the environment held.
 */
export function createExecutor(ctx: AppContext, options: CreateExecutorOptions = {}): Executor {
  const c = ctx.config.values;
  const name = c.core.executor;
  if (name === 'CeleryExecutor' || name === 'RedisExecutor') {
    return new CeleryExecutor({
      broker: brokerFromConfig(ctx.config.values),
      parallelism: options.parallelism ?? c.core.parallelism,
      dagsFolder: c.core.dags_folder,
      resultBackend: c.celery.result_backend,
      db: () => ctx.db(),
      log: ctx.log.child('executor'),
    });
  }
  const sequential = name === 'SequentialExecutor';
  const parallelism = sequential ? 1 : (options.parallelism ?? c.core.parallelism);
  return new LocalExecutor({
    ...taskProcessOptions(ctx, options.env),
    name,
    parallelism,
    warmProcesses: Math.min(c.core.task_runner_warm_processes, sequential ? 1 : parallelism),
  });
}

/**
 * What every pool of local task processes takes from the configuration (the LocalExecutor's, and
 * `dags test`'s), the environment included.
 */
export function taskProcessOptions(
  ctx: AppContext,
  env: NodeJS.ProcessEnv = process.env,
): Pick<
  ProcessPoolOptions,
  'maxOldSpaceSizeMb' | 'maxTasksPerProcess' | 'baseLogFolder' | 'killGraceMs' | 'env' | 'db' | 'log'
> {
  const c = ctx.config.values;
  return {
    maxOldSpaceSizeMb: c.core.task_runner_max_old_space_size,
    maxTasksPerProcess: c.core.task_runner_max_tasks_per_process,
    baseLogFolder: c.logging.base_log_folder,
    killGraceMs: c.core.killed_task_cleanup_time * 1000,
    env: {
      ...env,
      AIRFLOW_HOME: ctx.config.home,
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: c.database.sql_alchemy_conn,
      AIRFLOW__LOGGING__BASE_LOG_FOLDER: c.logging.base_log_folder,
      AIRFLOW__CORE__FERNET_KEY: c.core.fernet_key,
    },
    db: () => ctx.db(),
    log: ctx.log.child('executor'),
  };
}
