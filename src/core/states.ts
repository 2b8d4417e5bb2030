/**
 * The states of task instances, DAG runs and jobs, and the kinds of runs: the vocabulary the
 * scheduler, the task runner, the store and the UI share (Airflow's names and values).
 */
export type TaskInstanceState =
  | 'scheduled'
  | 'queued'
  | 'running'
  | 'success'
  | 'failed'
  | 'up_for_retry'
  | 'up_for_reschedule'
  | 'upstream_failed'
  | 'skipped'
  | 'removed'
  | 'restarting'
  | 'deferred';
export type DagRunState = 'queued' | 'running' | 'success' | 'failed';
export type DagRunType = 'scheduled' | 'manual' | 'backfill' | 'dataset_triggered';
export type JobState = 'running' | 'success' | 'failed' | 'restarting' | 'shutdown';
