import { DagImportError, NotFoundError } from '../errors.js';
import type { BaseOperator } from '../dag/base-operator.js';
import type { DAG } from '../dag/dag.js';
import { isDag } from '../dag/dag.js';
import { importDagFile, importDagFileReusing } from '../dag-processing/import-dag-file.js';

/**
 * Find a task's operator by importing its DAG file in this process (the runner's only contact
 * with user code before execute). The operator returned is the try's own copy
 * (prepareForExecution), so rendering and execute() never change the declared task.
 *
 * `reuseModule` (core.task_runner_cache_dag_files, warm task processes): a file already imported
 * in this process, unchanged since, is not evaluated again. Tries then share the file's module
 * state (what its top level created) for the life of the process, as tasks share a DAG file in
 * one interpreter; without it each try evaluates the file afresh.
 */
export interface LoadedTask {
  dag: DAG;
  operator: BaseOperator;
}

export async function loadTask(
  fileloc: string,
  dagId: string,
  taskId: string,
  options: { reuseModule?: boolean } = {},
): Promise<LoadedTask> {
  const imported: unknown = options.reuseModule
    ? await importDagFileReusing(fileloc)
    : await importDagFile(fileloc);
  const dags = extractDags(imported);
  const dag = dags.find((d) => d.dagId === dagId);
  if (!dag) {
    throw new DagImportError(
      `DAG '${dagId}' could not be found in ${fileloc}; either it does not exist or it failed to parse.`,
    );
  }
  if (!dag.hasTask(taskId))
    throw new NotFoundError(`Task '${taskId}' not found in DAG '${dagId}' (${fileloc})`);
  return { dag, operator: dag.getTask(taskId).prepareForExecution() };
}

function extractDags(imported: unknown): DAG[] {
  if (Array.isArray(imported)) return imported.filter(isDag);
  if (imported && typeof imported === 'object') {
    const o = imported as { dags?: unknown; errors?: unknown; error?: unknown };
    if (Array.isArray(o.dags)) return o.dags.filter(isDag);
    if (o.dags instanceof Map) return [...(o.dags as Map<string, unknown>).values()].filter(isDag);
  }
  return [];
}
