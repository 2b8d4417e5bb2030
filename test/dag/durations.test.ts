import { describe, expect, it } from 'vitest';
import { BashOperator, DAG, FileSensor, task, TimeDeltaSensor } from '../../src/index.js';

/**
 * Issue 22: a bare number in a duration is seconds, as Airflow reads retry_delay=2 and
 * poke_interval=5; ported DAGs are written that way and must not be read as milliseconds.
 */
describe('durations written as bare numbers', () => {
  it('are seconds in operator, sensor, TaskFlow and DAG arguments', () => {
    const d = new DAG({ dagId: 'durations', schedule: 3600, dagrunTimeout: 60 }).build(() => {
      new BashOperator({ taskId: 'b', bashCommand: 'true', retries: 1, retryDelay: 2, executionTimeout: 3 });
      new FileSensor({ taskId: 'f', filepath: '/tmp/x', pokeInterval: 5, timeout: 30, maxWait: 600 });
      new TimeDeltaSensor({ taskId: 'td', delta: 90 });
      task({ taskId: 'tf', retryDelay: 4 }, () => 1)();
    });
    const s = d.serialize();
    const by = (id: string) => s.tasks.find((t) => t.taskId === id)!;
    expect(by('b').retryDelayMs).toBe(2000);
    expect(by('b').executionTimeoutMs).toBe(3000);
    expect(by('f').sensor).toMatchObject({ pokeIntervalMs: 5000, timeoutMs: 30_000 });
    expect(by('tf').retryDelayMs).toBe(4000);
    expect(s.dagrunTimeoutMs).toBe(60_000);
    expect(s.schedule).toEqual({ kind: 'interval', everyMs: 3_600_000 });
  });

  it('objects keep their units; sub-second values are written in milliseconds', () => {
    const d = new DAG({ dagId: 'units' }).build(() => {
      new BashOperator({ taskId: 'b', bashCommand: 'true', retryDelay: { minutes: 1, milliseconds: 500 } });
      new FileSensor({ taskId: 'f', filepath: '/tmp/x', pokeInterval: { milliseconds: 200 } });
    });
    const s = d.serialize();
    expect(s.tasks.find((t) => t.taskId === 'b')!.retryDelayMs).toBe(60_500);
    expect(s.tasks.find((t) => t.taskId === 'f')!.sensor?.pokeIntervalMs).toBe(200);
  });

  it('refuses other shapes with a message that shows the accepted forms', () => {
    const accepted = /number of seconds \(as in Airflow\) or an object like \{ minutes: 5 \}/;
    expect(() => new BashOperator({ taskId: 'b', bashCommand: 'true', retryDelay: '2' as never })).toThrow(
      accepted,
    );
    expect(() => new BashOperator({ taskId: 'b', bashCommand: 'true', retryDelay: -1 })).toThrow(accepted);
    expect(() => new FileSensor({ taskId: 'f', filepath: '/x', timeout: [30] as never })).toThrow(accepted);
  });
});
