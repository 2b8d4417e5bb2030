import { describe, expect, it } from 'vitest';
import {
  TRIGGER_RULES,
  type SerializedDag,
  type SerializedTask,
  type TriggerRule,
} from '../../src/dag/serialized.js';
import type { TaskInstanceState } from '../../src/db/tables.js';
import { buildGraph, evaluateRun, type TiView } from '../../src/scheduler/evaluate-run.js';
import { countUpstream, evaluateTriggerRule, type RuleDecision } from '../../src/scheduler/trigger-rules.js';

type S = TaskInstanceState | null;

/**
 * Airflow's outcome for each rule, given upstream states (independent reference written from the
 * TriggerRuleDep documentation: decide as early as the rule allows).
 */
function expected(rule: TriggerRule, ups: S[]): RuleDecision {
  const n = (p: (s: S) => boolean) => ups.filter(p).length;
  const succ = n((s) => s === 'success');
  const skip = n((s) => s === 'skipped');
  const fail = n((s) => s === 'failed' || s === 'upstream_failed');
  const hardFail = n((s) => s === 'failed');
  const done = succ + skip + fail;
  const all = done === ups.length;
  if (ups.length === 0) return 'run';
  const table: Record<TriggerRule, () => RuleDecision> = {
    always: () => 'run',
    all_success: () => (fail ? 'upstream_failed' : skip ? 'skip' : all ? 'run' : 'wait'),
    all_failed: () => (succ || skip ? 'skip' : all ? 'run' : 'wait'),
    all_done: () => (all ? 'run' : 'wait'),
    all_skipped: () => (succ || fail ? 'skip' : all ? 'run' : 'wait'),
    one_success: () => (succ ? 'run' : !all ? 'wait' : skip === ups.length ? 'skip' : 'upstream_failed'),
    one_failed: () => (fail ? 'run' : all ? 'skip' : 'wait'),
    one_done: () => (succ + hardFail ? 'run' : all ? 'skip' : 'wait'),
    none_failed: () => (fail ? 'upstream_failed' : all ? 'run' : 'wait'),
    none_failed_min_one_success: () =>
      fail ? 'upstream_failed' : !all ? 'wait' : skip === ups.length ? 'skip' : 'run',
    none_skipped: () => (skip ? 'skip' : all ? 'run' : 'wait'),
  };
  return table[rule]();
}

const STATES: S[] = ['success', 'failed', 'skipped', 'upstream_failed', null, 'running'];
// Every mix of 0..3 upstream tasks over the interesting states (6^0 + 6 + 36 + 216 = 259 mixes).
const MIXES: S[][] = [[]];
for (let len = 1; len <= 3; len++) {
  const build = (prefix: S[]): void => {
    if (prefix.length === len) return void MIXES.push(prefix);
    for (const s of STATES) build([...prefix, s]);
  };
  build([]);
}

describe('trigger rules against every mix of upstream states', () => {
  it.each(TRIGGER_RULES)('%s', (rule) => {
    for (const mix of MIXES) {
      expect({ mix, got: evaluateTriggerRule(rule, countUpstream(mix)) }).toEqual({
        mix,
        got: expected(rule, mix),
      });
    }
  });
  it('spot checks from the Airflow docs', () => {
    expect(evaluateTriggerRule('all_success', countUpstream(['success', 'skipped']))).toBe('skip');
    expect(evaluateTriggerRule('all_success', countUpstream(['failed', null]))).toBe('upstream_failed');
    expect(evaluateTriggerRule('none_failed_min_one_success', countUpstream(['skipped', 'success']))).toBe(
      'run',
    );
    expect(evaluateTriggerRule('one_failed', countUpstream(['success', 'success']))).toBe('skip');
    expect(evaluateTriggerRule('all_done', countUpstream(['failed', 'upstream_failed', 'skipped']))).toBe(
      'run',
    );
  });
});

function task(taskId: string, upstream: string[] = [], extra: Partial<SerializedTask> = {}): SerializedTask {
  return {
    taskId,
    operator: 'BashOperator',
    upstream,
    owner: 'x',
    triggerRule: 'all_success',
    retries: 0,
    retryDelayMs: 0,
    retryExponentialBackoff: false,
    maxRetryDelayMs: null,
    executionTimeoutMs: null,
    pool: 'default_pool',
    poolSlots: 1,
    priorityWeight: 1,
    weightRule: 'downstream',
    queue: 'default',
    dependsOnPast: false,
    templateFields: [],
    isEmpty: false,
    isBranch: false,
    isShortCircuit: false,
    sensor: null,
    mapped: null,
    groupId: null,
    doc: null,
    uiColor: null,
    hasCallbacks: { onSuccess: false, onFailure: false, onRetry: false, onExecute: false },
    ...extra,
  };
}
function dagOf(tasks: SerializedTask[]): SerializedDag {
  return {
    version: 1,
    dagId: 'd',
    fileloc: '/x',
    description: null,
    docMd: null,
    owner: 'x',
    tags: [],
    schedule: null,
    timezone: 'UTC',
    startDate: null,
    endDate: null,
    catchup: false,
    maxActiveRuns: 1,
    maxActiveTasks: 16,
    dagrunTimeoutMs: null,
    isPausedUponCreation: null,
    params: {},
    tasks,
    taskGroups: [],
    hasCallbacks: { onSuccess: false, onFailure: false },
  };
}
function run(
  tasks: SerializedTask[],
  states: Record<string, S>,
  extra: Partial<Parameters<typeof evaluateRun>[0]> = {},
) {
  const dag = dagOf(tasks);
  const tis: TiView[] = Object.entries(states).map(([taskId, state]) => ({
    taskId,
    mapIndex: -1,
    state,
    nextRetryAt: null,
  }));
  return evaluateRun({
    dag,
    graph: buildGraph(dag),
    tis,
    now: 1000,
    skipChoices: new Map(),
    pastStates: new Map(),
    ...extra,
  });
}

describe('evaluating a run', () => {
  it('a failure cascades upstream_failed down a chain in one pass and fails the run', () => {
    const r = run([task('a'), task('b', ['a']), task('c', ['b'])], { a: 'failed', b: null, c: null });
    expect(r.changes.map((c) => [c.taskId, c.kind])).toEqual([
      ['b', 'upstream_failed'],
      ['c', 'upstream_failed'],
    ]);
    expect(r.runState).toBe('failed');
  });
  it("decides on its own copies: the caller's rows (the scheduler's cache) keep their states", () => {
    const dag = dagOf([task('a'), task('b', ['a']), task('c', ['b'])]);
    const tis: TiView[] = [
      { taskId: 'a', mapIndex: -1, state: 'failed', nextRetryAt: null },
      { taskId: 'b', mapIndex: -1, state: null, nextRetryAt: null },
      { taskId: 'c', mapIndex: -1, state: null, nextRetryAt: null },
    ];
    const before = structuredClone(tis);
    const r = evaluateRun({
      dag,
      graph: buildGraph(dag),
      tis,
      now: 1000,
      skipChoices: new Map(),
      pastStates: new Map(),
    });
    expect(r.changes).toHaveLength(2);
    expect(tis).toEqual(before);
  });
  it('a fan-in waits for its last upstream and fails at once on the first failed one', () => {
    const ups = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const tasks = [...ups.map((u) => task(u)), task('sink', ups)];
    const states = (last: S): Record<string, S> => ({
      ...Object.fromEntries(ups.map((u, i) => [u, i === ups.length - 1 ? last : 'success'])),
      sink: null,
    });
    expect(run(tasks, states('running')).changes).toEqual([]);
    expect(run(tasks, states('success')).changes.map((c) => [c.taskId, c.kind])).toEqual([
      ['sink', 'schedule'],
    ]);
    expect(run(tasks, states('failed')).changes.map((c) => [c.taskId, c.kind])).toEqual([
      ['sink', 'upstream_failed'],
    ]);
  });
  it('EmptyOperator succeeds without the executor and its downstream is scheduled in the same pass', () => {
    const r = run([task('start', [], { isEmpty: true }), task('work', ['start'])], {
      start: null,
      work: null,
    });
    expect(r.changes.map((c) => [c.taskId, c.kind])).toEqual([
      ['start', 'empty_success'],
      ['work', 'schedule'],
    ]);
    expect(r.runState).toBe('running');
  });
  it('branching skips the branch not followed and runs the join with none_failed_min_one_success', () => {
    const tasks = [
      task('branch', [], { isBranch: true }),
      task('a', ['branch']),
      task('b', ['branch']),
      task('b2', ['b']),
      task('join', ['a', 'b2', 'branch'], { triggerRule: 'none_failed_min_one_success' }),
    ];
    const r = run(
      tasks,
      { branch: 'success', a: null, b: null, b2: null, join: null },
      { skipChoices: new Map([['branch', { followed: ['a'] }]]) },
    );
    expect(Object.fromEntries(r.changes.map((c) => [c.taskId, c.kind]))).toEqual({
      a: 'schedule',
      b: 'skip',
      b2: 'skip',
    });
    const r2 = run(
      tasks,
      { branch: 'success', a: 'success', b: 'skipped', b2: 'skipped', join: null },
      { skipChoices: new Map([['branch', { followed: ['a'] }]]) },
    );
    expect(r2.changes.map((c) => [c.taskId, c.kind])).toEqual([['join', 'schedule']]);
  });
  it('a short-circuit skips everything downstream, whatever the trigger rules', () => {
    const tasks = [
      task('check', [], { isShortCircuit: true }),
      task('x', ['check']),
      task('y', ['x'], { triggerRule: 'all_done' }),
    ];
    const r = run(
      tasks,
      { check: 'success', x: null, y: null },
      { skipChoices: new Map([['check', { followed: [], skipAllDownstream: true }]]) },
    );
    expect(r.changes.map((c) => c.kind)).toEqual(['skip', 'skip']);
    expect(r.runState).toBe('success');
  });
  it('retries wait for next_retry_at', () => {
    const dag = dagOf([task('a')]);
    const base = { dag, graph: buildGraph(dag), skipChoices: new Map(), pastStates: new Map() };
    const early = evaluateRun({
      ...base,
      now: 1000,
      tis: [{ taskId: 'a', mapIndex: -1, state: 'up_for_retry', nextRetryAt: 5000 }],
    });
    expect(early.changes).toEqual([]);
    expect(early.nextWakeAt).toBe(5000);
    const late = evaluateRun({
      ...base,
      now: 5000,
      tis: [{ taskId: 'a', mapIndex: -1, state: 'up_for_retry', nextRetryAt: 5000 }],
    });
    expect(late.changes.map((c) => c.kind)).toEqual(['schedule']);
  });
  it('dependsOnPast waits for the previous run and is not a deadlock', () => {
    const tasks = [task('a', [], { dependsOnPast: true })];
    const blocked = run(tasks, { a: null }, { pastStates: new Map([['a', 'failed']]) });
    expect(blocked.changes).toEqual([]);
    expect(blocked.runState).toBe('running');
    expect(
      run(tasks, { a: null }, { pastStates: new Map([['a', 'success']]) }).changes.map((c) => c.kind),
    ).toEqual(['schedule']);
    expect(
      run(tasks, { a: null }, { pastStates: new Map([['a', 'absent']]) }).changes.map((c) => c.kind),
    ).toEqual(['schedule']);
  });
  it('dependsOnPast waits while the previous instance has not run yet (state null)', () => {
    const tasks = [task('a', [], { dependsOnPast: true })];
    const blocked = run(tasks, { a: null }, { pastStates: new Map([['a', null]]) });
    expect(blocked.changes).toEqual([]);
    expect(blocked.runState).toBe('running');
    expect(blocked.deadlocked).toBe(false);
  });
  it('a leaf failed fails the run; a failed non-leaf with an all_done leaf that succeeded does not', () => {
    expect(
      run([task('a'), task('b', ['a'], { triggerRule: 'all_done' })], { a: 'failed', b: 'success' }).runState,
    ).toBe('success');
    expect(run([task('a'), task('b')], { a: 'success', b: 'failed' }).runState).toBe('failed');
  });
  it('a mapped placeholder is expanded once its upstream is done', () => {
    const r = run([task('gen'), task('m', ['gen'], { mapped: { expandKeys: ['x'] } })], {
      gen: 'success',
      m: null,
    });
    expect(r.changes.map((c) => [c.taskId, c.kind])).toEqual([['m', 'expand']]);
  });
  it('tasks no longer in the DAG are removed', () => {
    const r = run([task('a')], { a: 'success', gone: null });
    expect(r.changes.map((c) => [c.taskId, c.kind])).toEqual([['gone', 'remove']]);
    expect(r.runState).toBe('success');
  });
});
