/**
 * DAG files for the semantics suite, written into a temp dags folder. Tasks record what happened
 * in files under `WORK` (a folder passed through the DAG file text) so that tests can check timing
 * and counts independently of the task_instance table.
 */
import { TRIGGER_RULES } from '../../../src/dag/serialized.js';

/** Upstream mixes for the trigger-rule matrix: names of the upstream tasks each join gets. */
export const RULE_MIXES: Record<string, string[]> = {
  ok_ok: ['ok1', 'ok2'],
  ok_bad: ['ok1', 'bad1'],
  ok_skip: ['ok1', 'skip1'],
  bad_bad: ['bad1', 'bad2'],
  skip_skip: ['skip1', 'skip2'],
  bad_skip: ['bad1', 'skip1'],
  ok_bad_skip: ['ok1', 'bad1', 'skip1'],
};

export function triggerRulesDag(): string {
  const joins = TRIGGER_RULES.flatMap((rule) =>
    Object.entries(RULE_MIXES).map(
      ([mix, ups]) =>
        `  new EmptyOperator({ taskId: '${rule}__${mix}', triggerRule: '${rule}' }).after([${ups.map((u) => `t.${u}`).join(', ')}]);`,
    ),
  );
  return `import { DAG, BashOperator, EmptyOperator } from 'updraft';
export const dag = new DAG({ dagId: 'sem_trigger_rules', schedule: null, startDate: '2024-01-01' }).build(() => {
  const t = {
    ok1: new BashOperator({ taskId: 'ok1', bashCommand: 'true' }),
    ok2: new BashOperator({ taskId: 'ok2', bashCommand: 'true' }),
    bad1: new BashOperator({ taskId: 'bad1', bashCommand: 'exit 1' }),
    bad2: new BashOperator({ taskId: 'bad2', bashCommand: 'exit 1' }),
    skip1: new BashOperator({ taskId: 'skip1', bashCommand: 'exit 99' }),
    skip2: new BashOperator({ taskId: 'skip2', bashCommand: 'exit 99' }),
  };
${joins.join('\n')}
});
`;
}

export function semanticsDags(work: string, now: number): Record<string, string> {
  const day = 86_400_000;
  const midnight = Math.floor(now / day) * day;
  return {
    'trigger_rules.ts': triggerRulesDag(),
    'branching.ts': `import { DAG, EmptyOperator, BashOperator, task } from 'updraft';
const pick = task.branch(function pick() { return 'left'; });
const gate = task.shortCircuit(function gate() { return false; });
export const dag = new DAG({ dagId: 'sem_branching', schedule: null, startDate: '2024-01-01' }).build(() => {
  const b = pick();
  const left = new BashOperator({ taskId: 'left', bashCommand: 'true' });
  const right = new BashOperator({ taskId: 'right', bashCommand: 'true' });
  const rightMore = new EmptyOperator({ taskId: 'right_more' });
  const join = new EmptyOperator({ taskId: 'join', triggerRule: 'none_failed_min_one_success' });
  const strictJoin = new EmptyOperator({ taskId: 'strict_join' });
  b.operator.then(left).then(join);
  b.operator.then(right).then(rightMore).then(join);
  left.then(strictJoin);
  rightMore.then(strictJoin);
  const g = gate();
  const after1 = new EmptyOperator({ taskId: 'after_gate' });
  const after2 = new EmptyOperator({ taskId: 'after_gate_all_done', triggerRule: 'all_done' });
  g.operator.then(after1).then(after2);
});
`,
    'retries.ts': `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'sem_retries', schedule: null, startDate: '2024-01-01' }).build(() => {
  // Fails on its first two tries, succeeds on the third; records the time of each try.
  new BashOperator({
    taskId: 'flaky', retries: 3, retryDelay: { milliseconds: 400 }, retryExponentialBackoff: true,
    bashCommand: 'date +%s%3N >> ${work}/flaky_tries; test $(wc -l < ${work}/flaky_tries) -ge 3',
  });
  new BashOperator({ taskId: 'always_fails', retries: 1, retryDelay: { milliseconds: 100 }, bashCommand: 'exit 1' });
  new BashOperator({ taskId: 'too_slow', executionTimeout: { seconds: 1 }, bashCommand: 'sleep 30' });
});
`,
    'sensors.ts': `import { DAG, FunctionSensor, EmptyOperator } from 'updraft';
import { appendFileSync, readFileSync, existsSync } from 'node:fs';
function pokes(name: string): number {
  const f = '${work}/' + name;
  appendFileSync(f, 'x');
  return readFileSync(f, 'utf8').length;
}
export const dag = new DAG({ dagId: 'sem_sensors', schedule: null, startDate: '2024-01-01' }).build(() => {
  const poke = new FunctionSensor({ taskId: 'poke_mode', mode: 'poke', pokeInterval: { milliseconds: 100 }, timeout: { seconds: 20 }, poke: () => pokes('poke_mode') >= 3 });
  const resched = new FunctionSensor({ taskId: 'reschedule_mode', mode: 'reschedule', pokeInterval: { milliseconds: 200 }, timeout: { seconds: 20 }, poke: () => pokes('reschedule_mode') >= 3 });
  const never = new FunctionSensor({ taskId: 'times_out', mode: 'reschedule', pokeInterval: { milliseconds: 200 }, timeout: { milliseconds: 700 }, poke: () => false });
  const soft = new FunctionSensor({ taskId: 'soft_fails', mode: 'poke', pokeInterval: { milliseconds: 100 }, timeout: { milliseconds: 300 }, softFail: true, poke: () => existsSync('/nonexistent-updraft') });
  const done = new EmptyOperator({ taskId: 'done' });
  poke.then(done);
  resched.then(done);
  void never; void soft;
});
`,
    'catchup.ts': `import { DAG, EmptyOperator } from 'updraft';
export const dag = new DAG({ dagId: 'sem_catchup', schedule: '@daily', startDate: '${new Date(midnight - 5 * day).toISOString()}', catchup: true, maxActiveRuns: 16 }).build(() => {
  new EmptyOperator({ taskId: 'e' });
});
export const nocatch = new DAG({ dagId: 'sem_no_catchup', schedule: '@daily', startDate: '${new Date(midnight - 5 * day).toISOString()}', catchup: false }).build(() => {
  new EmptyOperator({ taskId: 'e' });
});
export const serial = new DAG({ dagId: 'sem_max_active_runs', schedule: '@daily', startDate: '${new Date(midnight - 3 * day).toISOString()}', catchup: true, maxActiveRuns: 1 }).build(() => {
  new BashOperatorLike();
});
import { BashOperator } from 'updraft';
function BashOperatorLike() { return new BashOperator({ taskId: 'slow', bashCommand: 'sleep 0.3' }); }
export const past = new DAG({ dagId: 'sem_depends_on_past', schedule: '@daily', startDate: '${new Date(midnight - 2 * day).toISOString()}', catchup: true, maxActiveRuns: 2 }).build(() => {
  new BashOperator({ taskId: 'first_fails', dependsOnPast: true, bashCommand: '[ "{{ ds }}" != "${new Date(midnight - 2 * day).toISOString().slice(0, 10)}" ]' });
});
`,
    'pools.ts': `import { DAG, BashOperator } from 'updraft';
export const dag = new DAG({ dagId: 'sem_pools', schedule: null, startDate: '2024-01-01' }).build(() => {
  for (let i = 0; i < 3; i++) new BashOperator({ taskId: 'p' + i, pool: 'single', bashCommand: 'sleep 0.3' });
  for (let i = 0; i < 3; i++) new BashOperator({ taskId: 'w' + i, priorityWeight: 10 * i, weightRule: 'absolute', pool: 'single_w', bashCommand: 'true' });
});
`,
    'mapping.ts': `import { DAG, BashOperator, partial, task } from 'updraft';
const make = task(function make() { return ['a', 'b', 'c', 'd']; });
const echo = task(function echo_it(x: string) { return x.toUpperCase(); });
const collect = task(function collect(xs: string[]) { return xs.join(''); });
const empty = task(function empty() { return []; });
const never = task(function never_runs(x: string) { return x; });
export const dag = new DAG({ dagId: 'sem_mapping', schedule: null, startDate: '2024-01-01' }).build(() => {
  BashOperator.partial({ taskId: 'literal' }).expand({ bashCommand: ['true', 'true', 'true'] });
  collect(echo.expand(make()));
  never.expand(empty());
});
`,
  };
}
