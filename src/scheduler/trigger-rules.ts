import type { TriggerRule } from '../dag/serialized.js';
import type { TaskInstanceState } from '../db/tables.js';

/** Upstream states of one task instance, counted (removed upstreams are left out, as in Airflow). */
export interface UpstreamCounts {
  total: number;
  success: number;
  skipped: number;
  failed: number;
  upstreamFailed: number;
  /** Upstreams in a finished state. */
  done: number;
}

export function emptyCounts(): UpstreamCounts {
  return { total: 0, success: 0, skipped: 0, failed: 0, upstreamFailed: 0, done: 0 };
}

/** Add one upstream state to the counts. */
export function countUpstreamInto(c: UpstreamCounts, s: TaskInstanceState | null): void {
  if (s === 'removed') return;
  c.total++;
  if (s === 'success') c.success++;
  else if (s === 'skipped') c.skipped++;
  else if (s === 'failed') c.failed++;
  else if (s === 'upstream_failed') c.upstreamFailed++;
  else return;
  c.done++;
}

export function countUpstream(states: readonly (TaskInstanceState | null)[]): UpstreamCounts {
  const c = emptyCounts();
  for (const s of states) countUpstreamInto(c, s);
  return c;
}

/** What the trigger rule says about a task whose upstreams are in the counted states. */
export type RuleDecision = 'wait' | 'run' | 'skip' | 'upstream_failed';

/**
 * Airflow's TriggerRuleDep. Decisions are taken as early as the rule allows: all_success marks
 * upstream_failed on the first failed upstream without waiting for the others; one_success runs on
 * the first success.
 */
export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts): RuleDecision {
  const failures = c.failed + c.upstreamFailed;
  const allDone = c.done === c.total;
  // A task without upstream tasks has nothing to wait for, whatever its rule (as in Airflow).
  if (c.total === 0) return 'run';
  switch (rule) {
    case 'always':
      return 'run';
    case 'all_success':
      if (failures > 0) return 'upstream_failed';
      if (c.skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
    case 'all_failed':
      if (c.success + c.skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
    case 'all_done':
      return allDone ? 'run' : 'wait';
    case 'all_skipped':
      if (c.success + failures > 0) return 'skip';
      return allDone ? 'run' : 'wait';
    case 'one_success':
      if (c.success > 0) return 'run';
      if (!allDone) return 'wait';
      return c.skipped === c.total ? 'skip' : 'upstream_failed';
    case 'one_failed':
      if (failures > 0) return 'run';
      return allDone ? 'skip' : 'wait';
    case 'one_done':
      if (c.success + c.failed > 0) return 'run';
      return allDone ? 'skip' : 'wait';
    case 'none_failed':
      if (failures > 0) return 'upstream_failed';
      return allDone ? 'run' : 'wait';
    case 'none_failed_min_one_success':
      if (failures > 0) return 'upstream_failed';
      if (!allDone) return 'wait';
      return c.total > 0 && c.skipped === c.total ? 'skip' : 'run';
    case 'none_skipped':
      if (c.skipped > 0) return 'skip';
      return allDone ? 'run' : 'wait';
  }
}
