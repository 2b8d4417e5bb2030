import type { AppContext } from '../context.js';
import type { Executor } from '../executors/executor.js';
import { LocalExecutor } from '../executors/local-executor.js';
import { ConfigError } from '../errors.js';

/** The executor core.executor names (Sequential = Local with one slot). */
export function createExecutor(ctx: AppContext, env: NodeJS.ProcessEnv = process.env): Executor {
  const v = ctx.config.values;
  const name = v.core.executor;
  if (name !== 'LocalExecutor' && name !== 'SequentialExecutor') {
    throw new ConfigError(`core.executor = ${name} is not available to this scheduler yet; use LocalExecutor or SequentialExecutor`, 'core', 'executor');
  }
  return new LocalExecutor({
    name,
    parallelism: name === 'SequentialExecutor' ? 1 : v.core.parallelism,
    warmProcesses: v.core.task_runner_warm_processes,
    maxOldSpaceSizeMb: v.core.task_runner_max_old_space_size,
    maxTasksPerProcess: v.core.task_runner_max_tasks_per_process,
    baseLogFolder: v.logging.base_log_folder,
    killGraceMs: v.core.killed_task_cleanup_time * 1000,
    env,
    db: () => ctx.db(),
    log: ctx.log.child('executor'),
  });
}
