import {
  createTaskContext,
  type TaskContext,
  type TaskServices,
  type XComBackend,
} from '../../src/dag/execution.js';

/** XComs of one run kept in memory, with the pull semantics of the runner's DB backend (JSON round trip). */
export class MemoryXCom {
  readonly values = new Map<string, unknown>();
  /** The backend one task instance sees: it pushes under its own task id. */
  forTask(taskId: string): XComBackend {
    return {
      push: async (key, value) => {
        this.values.set(`${taskId}|${key}`, JSON.parse(JSON.stringify(value)) as unknown);
      },
      pull: async (q) => {
        const key = q.key ?? 'return_value';
        const ids = q.taskIds ?? taskId;
        const one = (id: string) => this.values.get(`${id}|${key}`);
        return Array.isArray(ids) ? ids.map(one) : one(ids);
      },
    };
  }
}

export interface TestContextOptions {
  taskId?: string;
  xcom?: MemoryXCom;
  variables?: Record<string, string>;
  params?: Record<string, unknown>;
  conf?: Record<string, unknown>;
  logicalDate?: Date;
  signal?: AbortSignal;
  services?: Partial<TaskServices>;
  sensorFirstPokeAt?: Date | null;
}

/** A TaskContext as the runner builds it, with log lines collected. */
export function testContext(o: TestContextOptions = {}): {
  context: TaskContext;
  logs: string[];
  xcom: MemoryXCom;
} {
  const taskId = o.taskId ?? 't';
  const xcom = o.xcom ?? new MemoryXCom();
  const logs: string[] = [];
  const logical = o.logicalDate ?? new Date('2024-03-05T00:00:00Z');
  const context = createTaskContext({
    dag: { dagId: 'd' },
    task: { taskId },
    dagRun: {
      dagId: 'd',
      runId: 'manual__2024-03-05',
      runType: 'manual',
      conf: o.conf ?? {},
      logicalDate: logical,
      dataIntervalStart: logical,
      dataIntervalEnd: new Date(logical.getTime() + 86_400_000),
      externalTrigger: true,
    },
    params: o.params ?? {},
    tryNumber: 1,
    maxTries: 1,
    services: {
      xcom: xcom.forTask(taskId),
      getVariable: async (k) => o.variables?.[k],
      getConnection: async () => undefined,
      triggerDagRun: async () => ({ runId: 'triggered' }),
      getExternalStates: async () => ({ runState: null, taskStates: [] }),
      getDagRunState: async () => null,
      ...o.services,
    },
    log: {
      info: (m) => logs.push(m),
      warn: (m) => logs.push(m),
      error: (m) => logs.push(m),
      debug: () => undefined,
    },
    signal: o.signal ?? new AbortController().signal,
    sensorFirstPokeAt: o.sensorFirstPokeAt ?? null,
  });
  return { context, logs, xcom };
}
