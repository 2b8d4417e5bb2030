import { describe, expect, it } from 'vitest';
import {
  BashOperator,
  chain,
  crossDownstream,
  DAG,
  dag as dagFn,
  DagImportError,
  EmptyOperator,
  FunctionSensor,
  Param,
  task,
  TaskGroup,
  TRIGGER_RULES,
  TriggerRule,
  validateParams,
  ValidationError,
} from '../../src/index.js';
import type { SerializedDag } from '../../src/dag/serialized.js';

/** Edges as sorted "up>down" strings: the graph, independent of how it was declared. */
function edges(d: DAG): string[] {
  return d.tasks.flatMap((t) => t.upstreamTaskIds.map((u) => `${u}>${t.taskId}`)).sort();
}

const EXPECTED_CONTROL_FLOW = ['first_task>second_task', 'first_task>third_task', 'fourth_task>third_task'];

function controlFlow(
  wire: (first: EmptyOperator, second: EmptyOperator, third: EmptyOperator, fourth: EmptyOperator) => void,
): DAG {
  return new DAG({ dagId: 'cf' }).build(() => {
    const ts = ['first_task', 'second_task', 'third_task', 'fourth_task'].map(
      (taskId) => new EmptyOperator({ taskId }),
    );
    wire(ts[0]!, ts[1]!, ts[2]!, ts[3]!);
  });
}

describe('dependency forms', () => {
  it('setDownstream/setUpstream, then/after, chain and the reversed forms all give the same graph', () => {
    const forms = [
      controlFlow((a, b, c, d) => {
        a.setDownstream([b, c]);
        c.setUpstream(d);
      }),
      controlFlow((a, b, c, d) => {
        a.then([b, c]);
        c.after(d);
      }),
      controlFlow((a, b, c, d) => {
        b.setUpstream(a);
        c.setUpstream([a, d]);
      }),
      controlFlow((a, b, c, d) => {
        chain(a, [b, c]);
        d.then(c);
      }),
      controlFlow((a, b, c, d) => {
        crossDownstream([a], [b, c]);
        crossDownstream([d], [c]);
      }),
    ];
    for (const f of forms) expect(edges(f)).toEqual(EXPECTED_CONTROL_FLOW);
  });

  it('then() returns its argument so calls chain like >>', () => {
    const d = new DAG({ dagId: 'c' }).build(() => {
      const [a, b, c] = ['a', 'b', 'c'].map((taskId) => new EmptyOperator({ taskId }));
      a!.then(b!).then(c!);
    });
    expect(edges(d)).toEqual(['a>b', 'b>c']);
  });

  it('chain links adjacent lists pairwise and rejects lists of different lengths', () => {
    const d = new DAG({ dagId: 'c' }).build(() => {
      const t = (id: string) => new EmptyOperator({ taskId: id });
      chain(t('a'), [t('b1'), t('c1')], [t('b2'), t('c2')], t('z'));
    });
    expect(edges(d)).toEqual(['a>b1', 'a>c1', 'b1>b2', 'b2>z', 'c1>c2', 'c2>z']);
    expect(() =>
      new DAG({ dagId: 'x' }).build(() => {
        const t = (id: string) => new EmptyOperator({ taskId: id });
        chain([t('a'), t('b')], [t('c')]);
      }),
    ).toThrow(/same length, got 2 and 1/);
  });

  it('a task created outside the DAG joins it when linked to one of its tasks', () => {
    const d = new DAG({ dagId: 'adopt' });
    const inside = new EmptyOperator({ taskId: 'inside', dag: d });
    const outside = new EmptyOperator({ taskId: 'outside' });
    inside.then(outside);
    expect(d.taskIds.sort()).toEqual(['inside', 'outside']);
  });

  it('awaiting an operator rejects with an explanation instead of wiring a callback', async () => {
    const d = new DAG({ dagId: 'aw' });
    const t = new EmptyOperator({ taskId: 't', dag: d });
    await expect((async () => t)()).rejects.toThrow(/awaited or used to resolve a promise/);
    expect(t.downstreamTasks.size).toBe(0);
  });
});

describe('validation', () => {
  it('detects a cycle and names the tasks in it', () => {
    const d = new DAG({ dagId: 'cyc' }).build(() => {
      const [a, b, c, x] = ['a', 'b', 'c', 'x'].map((taskId) => new EmptyOperator({ taskId }));
      x!.then(a!);
      a!.then(b!).then(c!).then(a!);
    });
    expect(() => d.validate()).toThrow(DagImportError);
    expect(() => d.serialize()).toThrow(
      /Cycle detected in DAG 'cyc': (a >> b >> c >> a|b >> c >> a >> b|c >> a >> b >> c)/,
    );
  });

  it('rejects a self-dependency', () => {
    new DAG({ dagId: 's' }).build(() => {
      const a = new EmptyOperator({ taskId: 'a' });
      expect(() => a.then(a)).toThrow(/'a' cannot depend on itself/);
    });
  });

  it('rejects duplicate task ids, naming the id and the DAG', () => {
    expect(() =>
      new DAG({ dagId: 'dup' }).build(() => {
        new EmptyOperator({ taskId: 'same' });
        new BashOperator({ taskId: 'same', bashCommand: 'true' });
      }),
    ).toThrow(/Task id 'same' has already been added to the DAG 'dup'/);
  });

  it('rejects dangling references and links across DAGs, naming the tasks', () => {
    const d1 = new DAG({ dagId: 'd1' });
    const d2 = new DAG({ dagId: 'd2' });
    const a = new EmptyOperator({ taskId: 'a', dag: d1 });
    const b = new EmptyOperator({ taskId: 'b', dag: d2 });
    expect(() => a.then(b)).toThrow(/'a' in 'd1' and 'b' in 'd2'/);

    // Two DAG-less tasks linked, then only one of them joins a DAG: the other is dangling.
    const loose1 = new EmptyOperator({ taskId: 'loose1' });
    const loose2 = new EmptyOperator({ taskId: 'loose2' });
    loose1.then(loose2);
    d1.addTask(loose2);
    expect(() => d1.validate()).toThrow(/task 'loose2' is linked to 'loose1', which is not part of this DAG/);
  });

  it('rejects bad ids, schedules, trigger rules and durations with the DAG or task named', () => {
    expect(() => new DAG({ dagId: 'bad id!' })).toThrow(ValidationError);
    expect(() => new DAG({ dagId: 'x', schedule: '61 * * * *' })).toThrow(/DAG 'x': invalid cron schedule/);
    expect(() => new DAG({ dagId: 'x', schedule: '@fortnightly' })).toThrow(/unknown schedule preset/);
    expect(() => new DAG({ dagId: 'x', schedule: { hours: -1 } })).toThrow(/DAG 'x'/);
    expect(() => new DAG({ dagId: 'x', maxActiveRuns: 0 })).toThrow(/maxActiveRuns/);
    expect(() => new EmptyOperator({ taskId: 't', triggerRule: 'sometimes' as never })).toThrow(
      /Task 't': unknown triggerRule 'sometimes'/,
    );
    expect(() => new EmptyOperator({ taskId: 't', retryDelay: { fortnights: 1 } as never })).toThrow(
      /Task 't'.*unknown unit 'fortnights'/,
    );
  });
});

describe('DAG arguments and serialization', () => {
  it('parses every schedule form', () => {
    expect(new DAG({ dagId: 'a', schedule: '*/5 * * * *' }).schedule).toEqual({
      kind: 'cron',
      expression: '*/5 * * * *',
    });
    for (const p of ['@once', '@hourly', '@daily', '@weekly', '@monthly', '@quarterly', '@yearly']) {
      expect(new DAG({ dagId: 'a', schedule: p }).schedule).toEqual({ kind: 'preset', name: p });
    }
    expect(new DAG({ dagId: 'a', schedule: { hours: 1, minutes: 30 } }).schedule).toEqual({
      kind: 'interval',
      everyMs: 5_400_000,
    });
    expect(new DAG({ dagId: 'a', schedule: null }).schedule).toBeNull();
    expect(new DAG({ dagId: 'a', scheduleInterval: '@daily' }).schedule).toEqual({
      kind: 'preset',
      name: '@daily',
    });
  });

  it('reads dates without an offset as wall time in the DAG time zone', () => {
    const berlin = (startDate: string) =>
      new DAG({ dagId: 'tz', timezone: 'Europe/Berlin', startDate }).startDate?.toISOString();
    expect(berlin('2024-01-01')).toBe('2023-12-31T23:00:00.000Z');
    expect(berlin('2024-07-01T06:00')).toBe('2024-07-01T04:00:00.000Z');
    expect(berlin('2024-07-01T06:00:00Z')).toBe('2024-07-01T06:00:00.000Z');
    expect(berlin('2024-07-01T06:00:00+01:00')).toBe('2024-07-01T05:00:00.000Z');
    expect(new DAG({ dagId: 'u', startDate: '2024-01-01' }).startDate?.toISOString()).toBe(
      '2024-01-01T00:00:00.000Z',
    );
    expect(new DAG({ dagId: 'tz', timezone: 'Europe/Berlin' }).serialize().timezone).toBe('Europe/Berlin');
    expect(() => new DAG({ dagId: 'tz', timezone: 'Mars/Olympus' })).toThrow(
      /unknown time zone 'Mars\/Olympus'/,
    );
    expect(() => new DAG({ dagId: 'tz', startDate: 'yesterday' })).toThrow(
      /startDate 'yesterday' is not a valid date/,
    );
  });

  it('exports all eleven trigger rules as constants', () => {
    expect(TRIGGER_RULES).toHaveLength(11);
    expect(Object.values(TriggerRule).sort()).toEqual([...TRIGGER_RULES].sort());
    expect(TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS).toBe('none_failed_min_one_success');
  });

  it('applies defaultArgs under explicit task arguments and serializes every field', () => {
    const d = new DAG({
      dagId: 'full',
      schedule: '@daily',
      startDate: '2024-01-01',
      endDate: new Date('2025-01-01T00:00:00Z'),
      catchup: false,
      tags: ['t1', 't2'],
      description: 'desc',
      docMd: '# doc',
      maxActiveRuns: 2,
      maxActiveTasks: 3,
      dagrunTimeout: { hours: 2 },
      isPausedUponCreation: false,
      defaultArgs: { owner: 'ann', retries: 2, retryDelay: { minutes: 1 }, pool: 'p1' },
      params: { n: new Param(5, { type: 'integer', minimum: 1, description: 'how many' }), plain: 'x' },
    }).build(() => {
      const a = new BashOperator({
        taskId: 'a',
        bashCommand: 'echo {{ ds }}',
        retries: 5,
        executionTimeout: { seconds: 30 },
        triggerRule: 'all_done',
        priorityWeight: 3,
        weightRule: 'absolute',
        queue: 'q',
        poolSlots: 2,
        dependsOnPast: true,
        retryExponentialBackoff: true,
        maxRetryDelay: { minutes: 10 },
        onFailureCallback: () => undefined,
      });
      a.then(new EmptyOperator({ taskId: 'b' }));
    });
    const s = d.serialize();
    expect(s).toMatchObject({
      dagId: 'full',
      owner: 'ann',
      schedule: { kind: 'preset', name: '@daily' },
      startDate: '2024-01-01T00:00:00.000Z',
      endDate: '2025-01-01T00:00:00.000Z',
      catchup: false,
      tags: ['t1', 't2'],
      maxActiveRuns: 2,
      maxActiveTasks: 3,
      dagrunTimeoutMs: 7_200_000,
      isPausedUponCreation: false,
      params: {
        n: { default: 5, description: 'how many', schema: { type: 'integer', minimum: 1 } },
        plain: { default: 'x' },
      },
    });
    const [a, b] = s.tasks;
    expect(a).toMatchObject({
      taskId: 'a',
      operator: 'BashOperator',
      owner: 'ann',
      retries: 5,
      retryDelayMs: 60_000,
      executionTimeoutMs: 30_000,
      triggerRule: 'all_done',
      pool: 'p1',
      poolSlots: 2,
      priorityWeight: 3,
      weightRule: 'absolute',
      queue: 'q',
      dependsOnPast: true,
      retryExponentialBackoff: true,
      maxRetryDelayMs: 600_000,
      templateFields: ['bashCommand', 'env', 'cwd'],
      templateValues: { bashCommand: 'echo {{ ds }}' },
      hasCallbacks: { onSuccess: false, onFailure: true, onRetry: false, onExecute: false },
    });
    expect(b).toMatchObject({
      taskId: 'b',
      upstream: ['a'],
      retries: 2,
      isEmpty: true,
      operator: 'EmptyOperator',
    });
  });

  it('round-trips through JSON unchanged', () => {
    const d = dagFn({ dagId: 'rt', schedule: { minutes: 15 }, tags: ['x'] }, () => {
      new TaskGroup('g', () => {
        new EmptyOperator({ taskId: 'a' }).then(
          new FunctionSensor({ taskId: 's', poke: () => true, mode: 'reschedule', pokeInterval: 5 }),
        );
      });
    });
    const s = d.serialize();
    const back = JSON.parse(JSON.stringify(s)) as SerializedDag;
    expect(back).toEqual(s);
    expect(back.tasks.find((t) => t.taskId === 'g.s')?.sensor).toEqual({
      mode: 'reschedule',
      pokeIntervalMs: 5000,
      timeoutMs: 7 * 86_400_000,
      softFail: false,
      exponentialBackoff: false,
    });
    expect(back.taskGroups).toEqual([{ groupId: 'g', tooltip: null, children: ['g.a', 'g.s'] }]);
    // Tasks come in dependency order.
    expect(back.tasks.map((t) => t.taskId)).toEqual(['g.a', 'g.s']);
  });
});

describe('task groups', () => {
  it('prefix ids, nest, and connect from their leaves to the next roots', () => {
    const d = new DAG({ dagId: 'tg' }).build(() => {
      const start = new EmptyOperator({ taskId: 'start' });
      const g = new TaskGroup({ groupId: 'g' }, () => {
        const a = new EmptyOperator({ taskId: 'a' });
        new TaskGroup('inner', () => {
          a.then(new EmptyOperator({ taskId: 'b' }));
        });
        a.then(new EmptyOperator({ taskId: 'c' }));
      });
      start.then(g).then(new EmptyOperator({ taskId: 'end' }));
    });
    expect(d.taskIds.sort()).toEqual(['end', 'g.a', 'g.c', 'g.inner.b', 'start']);
    expect(edges(d)).toEqual(['g.a>g.c', 'g.a>g.inner.b', 'g.c>end', 'g.inner.b>end', 'start>g.a']);
    expect(d.serialize().tasks.find((t) => t.taskId === 'g.inner.b')?.groupId).toBe('g.inner');
  });
});

describe('TaskFlow and mapping', () => {
  // Explicit task ids: vitest's transform renames functions (DAG files are bundled with keepNames,
  // so there the function name is the id; the examples test covers that).
  it('calling TaskFlow functions with results wires dependencies and unique ids', () => {
    const extract = task({ taskId: 'extract' }, async () => ({ a: 1 }));
    const transform = task({ multipleOutputs: true, taskId: 'transform' }, async (x: { a: number }) => ({
      total: x.a,
    }));
    const load = task({ taskId: 'load' }, (total: number) => total);
    const d = dagFn({ dagId: 'tf' }, () => {
      const s = transform(extract());
      load(s.get('total'));
      load(5);
    });
    expect(d.taskIds.sort()).toEqual(['extract', 'load', 'load__1', 'transform']);
    expect(edges(d)).toEqual(['extract>transform', 'transform>load']);
    expect(d.getTask('transform').serialize().operator).toBe('_FunctionDecoratedOperator');
  });

  it('task.branch / task.shortCircuit / task.sensor set the serialized flags', () => {
    const d = dagFn({ dagId: 'flags' }, () => {
      task.branch({ taskId: 'pick' }, () => 'x')();
      task.shortCircuit({ taskId: 'gate' }, () => false)();
      task.sensor({ pokeInterval: 1, mode: 'reschedule', taskId: 'wait' }, () => true)();
    });
    const s = d.serialize();
    const by = (id: string) => s.tasks.find((t) => t.taskId === id)!;
    expect(by('pick').isBranch).toBe(true);
    expect(by('gate').isShortCircuit).toBe(true);
    expect(by('wait').sensor?.mode).toBe('reschedule');
  });

  it('partial().expand() serializes the map sources; bad expand input is rejected', () => {
    const make = task({ taskId: 'make' }, () => [1, 2]);
    const d = dagFn({ dagId: 'map' }, () => {
      BashOperator.partial({ taskId: 'b', retries: 3 }).expand({
        bashCommand: ['echo 1', 'echo 2', 'echo 3'],
      });
      const double = task({ taskId: 'double' }, (x: number) => x * 2);
      double.expand(make());
    });
    const s = d.serialize();
    const b = s.tasks.find((t) => t.taskId === 'b')!;
    expect(b).toMatchObject({
      operator: 'BashOperator',
      retries: 3,
      mapped: { expandKeys: ['bashCommand'], sources: { bashCommand: { kind: 'literal', length: 3 } } },
    });
    const dbl = s.tasks.find((t) => t.taskId === 'double')!;
    expect(dbl.mapped).toEqual({
      expandKeys: ['value'],
      sources: { value: { kind: 'xcom', taskId: 'make', key: 'return_value' } },
    });
    expect(dbl.upstream).toEqual(['make']);
    expect(() =>
      dagFn({ dagId: 'bad' }, () =>
        BashOperator.partial({ taskId: 'x' }).expand({ bashCommand: 'echo' as never }),
      ),
    ).toThrow(/must be a list/);
  });
});

describe('params', () => {
  const params = new DAG({
    dagId: 'p',
    params: { n: new Param(5, { type: 'integer', minimum: 1 }), name: 'x' },
  }).serialize().params;

  it('applies conf over defaults and validates against the schema', () => {
    expect(validateParams(params, {})).toEqual({ n: 5, name: 'x' });
    expect(validateParams(params, { n: 7, extra: true })).toEqual({ n: 7, name: 'x', extra: true });
    expect(() => validateParams(params, { n: 0 })).toThrow(/param 'n' = 0: value must be >= 1/);
    expect(() => validateParams(params, { n: 'many' })).toThrow(/param 'n'/);
  });

  it('rejects an invalid schema at DAG creation', () => {
    expect(() => new DAG({ dagId: 'bad', params: { x: new Param(1, { type: 'no-such-type' }) } })).toThrow(
      /Param 'x'/,
    );
  });
});
