import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BashOperator,
  BranchOperator,
  DAG,
  dag as dagFn,
  DateTimeSensor,
  ExternalTaskSensor,
  FileSensor,
  FunctionOperator,
  FunctionSensor,
  getCurrentContext,
  HttpOperator,
  isFailNow,
  isReschedule,
  isSkip,
  MappedOperator,
  renderString,
  renderTemplates,
  ShortCircuitOperator,
  task,
  templateScope,
  TriggerDagRunOperator,
} from '../../src/index.js';
import { MemoryXCom, testContext } from '../support/dag-context.js';
import { createServer, type Server } from 'node:http';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'updraft-exec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('templates', () => {
  const { context } = testContext({
    params: { x: 'px', n: 3 },
    variables: { greeting: 'hello', cfg: '{"a": {"b": 7}}' },
  });
  const scope = templateScope(context);
  const r = (t: string) => renderString(t, scope);

  it('renders the date variables Airflow templates use', async () => {
    expect(await r('{{ ds }} {{ ds_nodash }} {{ ts }} {{ ts_nodash }}')).toBe(
      '2024-03-05 20240305 2024-03-05T00:00:00+00:00 20240305T000000',
    );
    expect(await r('{{ data_interval_start }} -> {{ data_interval_end }}')).toBe(
      '2024-03-05T00:00:00+00:00 -> 2024-03-06T00:00:00+00:00',
    );
    expect(await r('{{ logical_date.isoformat() }} {{ logical_date.strftime("%Y/%m") }}')).toBe(
      '2024-03-05T00:00:00+00:00 2024/03',
    );
  });

  it('renders params, variables, macros, filters and expressions', async () => {
    expect(await r('{{ params.x }}-{{ params["n"] * 2 }}')).toBe('px-6');
    expect(await r('{{ var.value.greeting }} {{ var.json.cfg.a.b }}')).toBe('hello 7');
    expect(await r("{{ macros.ds_add(ds, 7) }} {{ macros.ds_format(ds, '%Y-%m-%d', '%d.%m.%y') }}")).toBe(
      '2024-03-12 05.03.24',
    );
    expect(await r("{{ params.missing | default('dflt') }} {{ params.x | upper }} {{ 'a' ~ 1 }}")).toBe(
      'dflt PX a1',
    );
    expect(await r("{{ 'yes' if params.n > 2 else 'no' }} {{ params.n in [1, 3] }} {# a comment #}")).toBe(
      'yes True ',
    );
    expect(await r('no templates here')).toBe('no templates here');
  });

  it('pulls XComs with Airflow keyword arguments', async () => {
    const xcom = new MemoryXCom();
    await xcom.forTask('up').push('return_value', { v: 1 });
    await xcom.forTask('up').push('k', 'kv');
    const { context: c } = testContext({ taskId: 'down', xcom });
    const s = templateScope(c);
    expect(await renderString("{{ ti.xcomPull(task_ids='up') }}", s)).toBe('{"v":1}');
    expect(await renderString("{{ ti.xcom_pull(task_ids='up', key='k') }}", s)).toBe('kv');
  });

  it('refuses to reach outside the context and reports syntax errors', async () => {
    await expect(r('{{ params.constructor }}')).rejects.toThrow(/may not access 'constructor'/);
    await expect(r("{{ ds.constructor('return process')() }}")).rejects.toThrow(/may not access/);
    await expect(r('{{ services }}')).resolves.toBe('');
    await expect(r('{{ var.value.nope }}')).rejects.toThrow(/Variable nope does not exist/);
    await expect(r('{{ params.x + }}')).rejects.toThrow(/template expression/);
  });

  it('renderTemplates renders an operator’s templated fields in place', async () => {
    const op = new BashOperator({ taskId: 'b', bashCommand: 'echo {{ params.x }}', env: { D: '{{ ds }}' } });
    const rendered = await renderTemplates(op, context);
    expect(rendered).toEqual({ bashCommand: 'echo px', env: { D: '2024-03-05' } });
    expect(op.bashCommand).toBe('echo px');
  });
});

describe('BashOperator', () => {
  it('returns the last line of output, logs the rest, and fails on a non-zero exit', async () => {
    const { context, logs } = testContext();
    const ok = new BashOperator({
      taskId: 'ok',
      bashCommand: 'echo first; echo "$MY_VAR"',
      env: { MY_VAR: 'last' },
    });
    await expect(ok.execute(context)).resolves.toBe('last');
    expect(logs).toContain('first');
    const bad = new BashOperator({ taskId: 'bad', bashCommand: 'exit 3' });
    await expect(bad.execute(context)).rejects.toThrow(/non-zero exit code 3/);
  });

  it('exit code 99 means skipped', async () => {
    const { context } = testContext();
    const err = await new BashOperator({ taskId: 's', bashCommand: 'exit 99' })
      .execute(context)
      .catch((e: unknown) => e);
    expect(isSkip(err)).toBe(true);
  });

  it('kills the whole process tree when aborted', async () => {
    const ac = new AbortController();
    const { context } = testContext({ signal: ac.signal });
    const marker = path.join(dir, 'grandchild.pid');
    const op = new BashOperator({
      taskId: 'k',
      bashCommand: `sleep 30 & echo $! > ${marker}; wait`,
      killGraceMs: 500,
    });
    const running = op.execute(context);
    await new Promise((r) => setTimeout(r, 300));
    ac.abort(new Error('execution timeout'));
    await expect(running).rejects.toThrow(/execution timeout/);
    const { readFile } = await import('node:fs/promises');
    const pid = Number((await readFile(marker, 'utf8')).trim());
    // The rejection comes at abort; the kill (SIGTERM, SIGKILL after the grace) lands just after.
    // Wait for it rather than for a fixed time, which raced on a loaded machine.
    const gone = () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    for (const deadline = Date.now() + 5000; !gone() && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('function operators and TaskFlow', () => {
  it('FunctionOperator gets the context and rendered opArgs', async () => {
    const { context } = testContext({ params: { x: 2 } });
    const op = new FunctionOperator({
      taskId: 'f',
      opArgs: ['{{ params.x }}', 5],
      fn: (ctx, a: string, b: number) => `${ctx.ds}:${a}:${b}`,
    });
    await renderTemplates(op, context);
    await expect(op.execute(context)).resolves.toBe('2024-03-05:2:5');
  });

  it('a TaskFlow pipeline passes values through XCom, including multipleOutputs', async () => {
    const xcom = new MemoryXCom();
    const extract = task({ taskId: 'extract' }, async () => ({ '1001': 301.27, '1002': 433.21 }));
    const transform = task(
      { taskId: 'transform', multipleOutputs: true },
      (orders: Record<string, number>) => ({
        total: Object.values(orders).reduce((a, b) => a + b, 0),
      }),
    );
    const load = task(
      { taskId: 'load' },
      (total: number) => `total=${total.toFixed(2)} ds=${getCurrentContext().ds}`,
    );
    const d = dagFn({ dagId: 'etl' }, () => {
      load(transform(extract()).get('total'));
    });
    const results: Record<string, unknown> = {};
    for (const t of d.topologicalOrder()) {
      const { context } = testContext({ taskId: t.taskId, xcom });
      const value = await t.execute(context);
      if (value !== undefined) await xcom.forTask(t.taskId).push('return_value', value);
      results[t.taskId] = value;
    }
    expect(xcom.values.get('transform|total')).toBeCloseTo(734.48);
    expect(results.load).toBe('total=734.48 ds=2024-03-05');
  });

  it('branch and short-circuit operators return what the scheduler acts on', async () => {
    const { context } = testContext();
    await expect(
      new BranchOperator({ taskId: 'b', chooseBranch: () => 'x' }).execute(context),
    ).resolves.toEqual(['x']);
    await expect(new ShortCircuitOperator({ taskId: 's', fn: () => 0 }).execute(context)).resolves.toBe(0);
    const flags = new DAG({ dagId: 'f' })
      .build(() => {
        new ShortCircuitOperator({ taskId: 's', fn: () => false });
        task.branch({ taskId: 'tb' }, () => ['a', 'b'])();
      })
      .serialize();
    expect(flags.tasks.map((t) => [t.taskId, t.isShortCircuit, t.isBranch])).toEqual([
      ['s', true, false],
      ['tb', false, true],
    ]);
  });

  it('mapped tasks expand from literals and from XCom, one instance per item', async () => {
    const xcom = new MemoryXCom();
    await xcom.forTask('make').push('return_value', [10, 20]);
    let mapped!: MappedOperator;
    new DAG({ dagId: 'm' }).build(() => {
      const make = task({ taskId: 'make' }, () => [10, 20]);
      const double = task({ taskId: 'double' }, (factor: number, x: number) => factor * x);
      mapped = double.partial(3).expand(make()).operator as MappedOperator;
    });
    const { context } = testContext({ taskId: 'double', xcom });
    expect(await mapped.expandInstances(context)).toEqual([{ value: 10 }, { value: 20 }]);
    const { operator, count } = await mapped.instanceFor(1, context);
    expect(count).toBe(2);
    await expect(operator.execute(context)).resolves.toBe(60);

    let bash!: MappedOperator;
    new DAG({ dagId: 'm2' }).build(() => {
      bash = BashOperator.partial({ taskId: 'b' }).expand({
        bashCommand: ['echo a', 'echo b'],
      }) as MappedOperator;
    });
    const inst = await bash.instanceFor(1, testContext({ taskId: 'b' }).context);
    await expect(inst.operator.execute(testContext().context)).resolves.toBe('b');
  });
});

describe('sensors', () => {
  it('poke mode loops until done and returns the xcom value', async () => {
    let n = 0;
    const s = new FunctionSensor({
      taskId: 's',
      pokeInterval: { milliseconds: 20 },
      poke: () => (++n >= 3 ? { done: true, xcom: n } : false),
    });
    await expect(s.execute(testContext().context)).resolves.toBe(3);
  });

  it('reschedule mode pokes once and asks to be rescheduled', async () => {
    const s = new FunctionSensor({
      taskId: 's',
      mode: 'reschedule',
      pokeInterval: 60,
      poke: () => false,
    });
    const err = await s.execute(testContext().context).catch((e: unknown) => e);
    expect(isReschedule(err)).toBe(true);
  });

  it('timeout fails without retry, or skips with softFail; backoff grows the interval', async () => {
    const hard = new FunctionSensor({
      taskId: 'h',
      pokeInterval: { milliseconds: 10 },
      timeout: { milliseconds: 50 },
      poke: () => false,
    });
    expect(isFailNow(await hard.execute(testContext().context).catch((e: unknown) => e))).toBe(true);
    const soft = new FunctionSensor({
      taskId: 's',
      pokeInterval: { milliseconds: 10 },
      timeout: { milliseconds: 50 },
      softFail: true,
      poke: () => false,
    });
    expect(isSkip(await soft.execute(testContext().context).catch((e: unknown) => e))).toBe(true);
    // Reschedule mode measures the timeout from the first poke of the whole sequence.
    const resched = new FunctionSensor({ taskId: 'r', mode: 'reschedule', timeout: 1, poke: () => false });
    const old = testContext({ sensorFirstPokeAt: new Date(Date.now() - 5000) }).context;
    expect(isFailNow(await resched.execute(old).catch((e: unknown) => e))).toBe(true);
    const backoff = new FunctionSensor({
      taskId: 'b',
      pokeInterval: 1,
      exponentialBackoff: true,
      poke: () => false,
    });
    expect([1, 2, 3, 4].map((i) => backoff.nextPokeDelay(i))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('FileSensor, DateTimeSensor and ExternalTaskSensor check the real thing', async () => {
    const file = path.join(dir, 'arrives.txt');
    const fs = new FileSensor({ taskId: 'f', filepath: file });
    const { context } = testContext();
    expect(await fs.poke(context)).toBe(false);
    await writeFile(file, 'x');
    expect(await fs.poke(context)).toBe(true);

    expect(new DateTimeSensor({ taskId: 'd', targetTime: '2000-01-01T00:00:00Z' }).poke(context)).toBe(true);
    expect(new DateTimeSensor({ taskId: 'd2', targetTime: '2999-01-01T00:00:00Z' }).poke(context)).toBe(
      false,
    );

    const queries: unknown[] = [];
    const ext = new ExternalTaskSensor({
      taskId: 'e',
      externalDagId: 'other',
      externalTaskId: 'x',
      failedStates: ['failed'],
      executionDelta: { hours: 1 },
    });
    const states = ['running', 'success', 'failed'];
    let i = 0;
    const ctx = testContext({
      services: {
        getExternalStates: async (q) => {
          queries.push(q);
          return { runState: null, taskStates: [states[i++]! as never] };
        },
      },
    }).context;
    expect(await ext.poke(ctx)).toBe(false);
    expect(await ext.poke(ctx)).toBe(true);
    expect(isFailNow(await Promise.resolve(ext.poke(ctx)).catch((e: unknown) => e))).toBe(true);
    expect(queries[0]).toEqual({
      dagId: 'other',
      taskIds: ['x'],
      logicalDate: new Date('2024-03-04T23:00:00Z'),
    });
  });
});

describe('TriggerDagRunOperator and HttpOperator', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.statusCode = req.url === '/fail' ? 500 : 200;
        res.end(JSON.stringify({ method: req.method, url: req.url, body }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('TriggerDagRunOperator calls the injected triggerDagRun with rendered conf', async () => {
    const calls: unknown[] = [];
    const { context, xcom } = testContext({
      params: { m: 'hi' },
      services: { triggerDagRun: async (req) => (calls.push(req), { runId: 'r1' }) },
    });
    const op = new TriggerDagRunOperator({
      taskId: 't',
      triggerDagId: 'target',
      conf: { message: '{{ params.m }}' },
    });
    await renderTemplates(op, context);
    await expect(op.execute(context)).resolves.toBe('r1');
    expect(calls).toEqual([
      {
        dagId: 'target',
        runId: undefined,
        conf: { message: 'hi' },
        logicalDate: undefined,
        resetDagRun: false,
      },
    ]);
    expect(xcom.values.get('t|trigger_run_id')).toBe('r1');
  });

  it('HttpOperator posts JSON and fails on an error status', async () => {
    const { context } = testContext();
    const ok = new HttpOperator({ taskId: 'h', endpoint: `${base}/x`, data: { a: 1 } });
    const text = JSON.parse((await ok.execute(context)) as string) as { method: string; body: string };
    expect(text).toEqual({ method: 'POST', url: '/x', body: '{"a":1}' });
    await expect(
      new HttpOperator({ taskId: 'h2', endpoint: `${base}/fail`, method: 'GET' }).execute(context),
    ).rejects.toThrow(/HTTP 500/);
  });
});
