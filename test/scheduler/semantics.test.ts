import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRIGGER_RULES } from '../../src/dag/serialized.js';
import { triggerDagRun } from '../../src/dag-runs/index.js';
import type { DagRunRow, TaskInstanceState } from '../../src/db/tables.js';
import { countUpstream, evaluateTriggerRule } from '../../src/scheduler/trigger-rules.js';
import { TEST_DIALECTS } from '../support/databases.js';
import { createHarness, statesOf, type Harness } from './support/harness.js';
import { RULE_MIXES, semanticsDags } from './support/semantics-dags.js';

const UPSTREAM_STATE: Record<string, TaskInstanceState> = {
  ok1: 'success',
  ok2: 'success',
  bad1: 'failed',
  bad2: 'failed',
  skip1: 'skipped',
  skip2: 'skipped',
};
const DAY = 86_400_000;

/**
 * Outcomes Airflow's trigger-rule semantics allow for a join whose upstreams end in `finals`.
 * Rules decide as early as they can (all_success turns skipped on the first skipped upstream), so
 * with a failed and a skipped upstream the result depends on which finishes first; every finishing
 * order is tried, and the first decision along each order is a valid outcome.
 */
function allowedOutcomes(rule: (typeof TRIGGER_RULES)[number], finals: TaskInstanceState[]): Set<string> {
  const orders = (xs: TaskInstanceState[]): TaskInstanceState[][] =>
    xs.length <= 1
      ? [xs]
      : xs.flatMap((x, i) => orders([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
  const outcomes = new Set<string>();
  for (const order of orders(finals)) {
    for (let finished = 0; finished <= order.length; finished++) {
      const seen = order.map((state, i) => (i < finished ? state : null));
      const decision = evaluateTriggerRule(rule, countUpstream(seen));
      if (decision === 'wait') continue;
      outcomes.add(decision === 'run' ? 'success' : decision === 'skip' ? 'skipped' : decision);
      break;
    }
  }
  return outcomes;
}

describe.each(TEST_DIALECTS)('scheduler semantics on %s', (dialect) => {
  let h: Harness;
  const manual: Record<string, DagRunRow> = {};
  const now = Date.now();

  beforeAll(async () => {
    h = await createHarness(dialect, { AIRFLOW__CORE__PARALLELISM: '8' });
    for (const [name, source] of Object.entries(semanticsDags(h.home, now))) await h.writeDag(name, source);
    await h.parse();
    const db = (await h.ctx.db()).kysely;
    await db
      .insertInto('slot_pool')
      .values([
        { pool: 'single', slots: 1, description: null, include_deferred: 0 },
        { pool: 'single_w', slots: 1, description: null, include_deferred: 0 },
      ])
      .execute();
    for (const dagId of [
      'sem_trigger_rules',
      'sem_branching',
      'sem_retries',
      'sem_sensors',
      'sem_pools',
      'sem_mapping',
    ]) {
      manual[dagId] = await triggerDagRun(await h.ctx.db(), dagId);
    }
    h.startScheduler();
  }, 120_000);
  afterAll(async () => h?.close(), 60_000);

  it('applies every trigger rule to real upstream outcomes (success, failed, skipped by exit 99)', async () => {
    const run = await h.waitForRun('sem_trigger_rules', manual.sem_trigger_rules!.run_id, 60_000);
    const states = statesOf(await h.tis('sem_trigger_rules', run.run_id));
    for (const [id, state] of Object.entries(UPSTREAM_STATE)) expect(states[id]).toBe(state);
    for (const rule of TRIGGER_RULES) {
      for (const [mix, ups] of Object.entries(RULE_MIXES)) {
        const allowed = [
          ...allowedOutcomes(
            rule,
            ups.map((u) => UPSTREAM_STATE[u]!),
          ),
        ];
        expect({ task: `${rule}__${mix}`, state: states[`${rule}__${mix}`] }).toEqual({
          task: `${rule}__${mix}`,
          state:
            allowed.length === 1
              ? allowed[0]
              : expect.toSatisfy((s: string) => allowed.includes(s), `one of ${allowed.join(', ')}`),
        });
      }
    }
    // Spot checks against Airflow's documented behaviour, independent of the evaluator.
    expect(states.all_success__ok_skip).toBe('skipped');
    expect(states.all_success__ok_bad).toBe('upstream_failed');
    expect(states.one_failed__ok_bad).toBe('success');
    expect(states.none_failed__ok_skip).toBe('success');
    expect(states.all_skipped__skip_skip).toBe('success');
    expect(states.none_failed_min_one_success__skip_skip).toBe('skipped');
    expect(run.state).toBe('failed'); // leaves such as all_success__ok_bad are upstream_failed
  }, 90_000);

  it('follows the chosen branch, skips the other, and runs the join', async () => {
    const run = await h.waitForRun('sem_branching', manual.sem_branching!.run_id);
    const s = statesOf(await h.tis('sem_branching', run.run_id));
    expect(s).toMatchObject({
      pick: 'success',
      left: 'success',
      right: 'skipped',
      right_more: 'skipped',
      join: 'success',
      strict_join: 'skipped',
    });
    expect(s).toMatchObject({ gate: 'success', after_gate: 'skipped', after_gate_all_done: 'skipped' });
    expect(run.state).toBe('success');
  }, 60_000);

  it('retries with exponential backoff, fails after the last retry, and times out slow tasks', async () => {
    const run = await h.waitForRun('sem_retries', manual.sem_retries!.run_id, 60_000);
    const tis = await h.tis('sem_retries', run.run_id);
    expect(tis.flaky!.state).toBe('success');
    expect(tis.flaky!.try_number).toBe(3);
    const times = (await readFile(join(h.home, 'flaky_tries'), 'utf8')).trim().split('\n').map(Number);
    expect(times).toHaveLength(3);
    // retryDelay 400 ms doubled per try: >= 400 ms, then >= 800 ms.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(400);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(800);
    expect(tis.always_fails!.state).toBe('failed');
    expect(tis.always_fails!.try_number).toBe(2);
    expect(tis.too_slow!.state).toBe('failed');
    expect(tis.too_slow!.duration!).toBeLessThan(15);
    expect(run.state).toBe('failed');
  }, 90_000);

  it('runs sensors in poke and reschedule mode, and times them out', async () => {
    const run = await h.waitForRun('sem_sensors', manual.sem_sensors!.run_id, 60_000);
    const tis = await h.tis('sem_sensors', run.run_id);
    expect(statesOf(tis)).toMatchObject({
      poke_mode: 'success',
      reschedule_mode: 'success',
      done: 'success',
      times_out: 'failed',
      soft_fails: 'skipped',
    });
    // Reschedule mode: one try, several short pokes recorded in task_reschedule.
    expect(tis.reschedule_mode!.try_number).toBe(1);
    const db = (await h.ctx.db()).kysely;
    const reschedules = await db
      .selectFrom('task_reschedule')
      .selectAll()
      .where('dag_id', '=', 'sem_sensors')
      .where('task_id', '=', 'reschedule_mode')
      .execute();
    expect(reschedules.length).toBe(2);
    expect((await readFile(join(h.home, 'poke_mode'), 'utf8')).length).toBe(3);
    expect(tis.poke_mode!.try_number).toBe(1);
  }, 90_000);

  it('creates one run per missed interval with catchup, only the latest without', async () => {
    const deadline = Date.now() + 30_000;
    let runs: DagRunRow[] = [];
    while (Date.now() < deadline) {
      runs = await h.runs('sem_catchup');
      if (runs.length >= 5 && runs.every((r) => r.state === 'success')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const midnight = Math.floor(now / DAY) * DAY;
    expect(runs.map((r) => r.logical_date)).toEqual([5, 4, 3, 2, 1].map((d) => midnight - d * DAY));
    expect(
      runs.every((r) => r.data_interval_end! - r.data_interval_start! === DAY && r.run_type === 'scheduled'),
    ).toBe(true);
    expect(runs[0]!.run_id).toBe(
      `scheduled__${new Date(midnight - 5 * DAY).toISOString().replace('.000Z', '+00:00')}`,
    );
    const single = await h.runs('sem_no_catchup');
    expect(single.map((r) => r.logical_date)).toEqual([midnight - DAY]);
    const dagRow = await (
      await h.ctx.db()
    ).kysely
      .selectFrom('dag')
      .selectAll()
      .where('dag_id', '=', 'sem_catchup')
      .executeTakeFirstOrThrow();
    expect(dagRow.next_dagrun).toBe(midnight);
    expect(dagRow.next_dagrun_create_after).toBe(midnight + DAY);
  }, 60_000);

  it('never runs more than maxActiveRuns at once', async () => {
    const deadline = Date.now() + 40_000;
    let runs: DagRunRow[] = [];
    while (Date.now() < deadline) {
      runs = await h.runs('sem_max_active_runs');
      expect(runs.filter((r) => r.state === 'running').length).toBeLessThanOrEqual(1);
      if (runs.length === 3 && runs.every((r) => r.state === 'success')) break;
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(runs.map((r) => r.state)).toEqual(['success', 'success', 'success']);
    for (let i = 1; i < runs.length; i++)
      expect(runs[i]!.start_date!).toBeGreaterThanOrEqual(runs[i - 1]!.end_date!);
  }, 60_000);

  it('dependsOnPast holds a task while the same task failed in the previous run', async () => {
    const deadline = Date.now() + 20_000;
    let runs: DagRunRow[] = [];
    while (Date.now() < deadline) {
      runs = await h.runs('sem_depends_on_past');
      if (runs.length === 2 && runs[0]!.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(runs.map((r) => r.state)).toEqual(['failed', 'running']);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await h.tis('sem_depends_on_past', runs[1]!.run_id);
    expect(second.first_fails!.state).toBeNull();
    expect((await h.runs('sem_depends_on_past'))[1]!.state).toBe('running');
  }, 60_000);

  it('pools limit concurrency and priority weight orders the queue', async () => {
    const run = await h.waitForRun('sem_pools', manual.sem_pools!.run_id, 30_000);
    const tis = await h.tis('sem_pools', run.run_id);
    const spans = ['p0', 'p1', 'p2']
      .map((id) => [tis[id]!.start_date!, tis[id]!.end_date!] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    const order = ['w0', 'w1', 'w2'].sort((a, b) => tis[a]!.start_date! - tis[b]!.start_date!);
    expect(order).toEqual(['w2', 'w1', 'w0']);
    expect(run.state).toBe('success');
  }, 60_000);

  it('expands mapped tasks from literal lists and upstream XCom, and skips an empty expansion', async () => {
    const run = await h.waitForRun('sem_mapping', manual.sem_mapping!.run_id, 30_000);
    const s = statesOf(await h.tis('sem_mapping', run.run_id));
    expect(Object.keys(s).filter((k) => k.startsWith('literal['))).toHaveLength(3);
    expect(Object.keys(s).filter((k) => k.startsWith('echo_it['))).toHaveLength(4);
    expect(s.collect).toBe('success');
    expect(s.never_runs).toBe('skipped');
    const db = (await h.ctx.db()).kysely;
    const x = await db
      .selectFrom('xcom')
      .select('value')
      .where('dag_id', '=', 'sem_mapping')
      .where('task_id', '=', 'collect')
      .where('key', '=', 'return_value')
      .executeTakeFirst();
    expect(JSON.parse(x!.value)).toBe('ABCD');
    expect(run.state).toBe('success');
  }, 60_000);
});
