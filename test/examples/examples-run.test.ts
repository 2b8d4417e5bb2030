import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importDagFile } from '../../src/dag-processing/import-dag-file.js';
import { listExampleFiles } from '../../src/dag-processing/discover.js';
import { isReschedule, isSkip } from '../../src/dag/execution.js';
import { renderTemplates } from '../../src/dag/templates.js';
import type { BaseOperator } from '../../src/dag/base-operator.js';
import { MemoryXCom, testContext } from '../support/dag-context.js';

// The examples must run without outside services. This executes every task of every example
// in dependency order, in this process (the scheduler's skip/branch semantics are not applied:
// every task runs), with XCom kept in memory. Uses dist/ (the examples' `updraft` import).

/** Tasks that end skipped on purpose. */
const EXPECTED_SKIPS = new Set([
  'example_bash_operator.this_will_skip',
  'example_skip_dag.skip_operator_1',
  'example_skip_dag.skip_operator_2',
  'example_sensors.failure_timeout_sensor',
]);

/** Examples that need outside services, run end to end elsewhere (AWS: test/providers/amazon-pipeline.test.ts, against moto). */
const NEEDS_SERVICES = new Set(['example_s3_glue_emr_redshift']);

type Mappable = BaseOperator & {
  expandInstances(c: unknown): Promise<Record<string, unknown>[]>;
  instance(k: Record<string, unknown>): BaseOperator;
};

describe('example DAGs run end to end', async () => {
  const files = await listExampleFiles();

  it('there are all of them', () => {
    expect(files.length).toBe(20);
  });

  it.each(
    files
      .filter((f) => !NEEDS_SERVICES.has(path.basename(f, '.js')))
      .map((f) => [path.basename(f, '.js'), f]),
  )(
    '%s',
    async (_name, file) => {
      const [dag] = await importDagFile(file);
      expect(dag).toBeDefined();
      const xcom = new MemoryXCom();
      const outcome: Record<string, string> = {};
      for (const task of dag!.topologicalOrder()) {
        const { context } = testContext({
          taskId: task.taskId,
          xcom,
          params: Object.fromEntries(Object.entries(dag!.serialize().params).map(([k, v]) => [k, v.default])),
          conf: { message: 'Hello from the test' },
          services: { getExternalStates: async () => ({ runState: 'success', taskStates: ['success'] }) },
        });
        const run = async (op: BaseOperator) => {
          await renderTemplates(op, context);
          return op.execute(context);
        };
        try {
          let value: unknown;
          if ('expandInstances' in task) {
            const mapped = task as Mappable;
            const combos = await mapped.expandInstances(context);
            value = [];
            for (const c of combos) (value as unknown[]).push(await run(mapped.instance(c)));
          } else {
            value = await run(task);
          }
          if (value !== undefined) await xcom.forTask(task.taskId).push('return_value', value);
          outcome[task.taskId] = 'success';
        } catch (error) {
          if (isSkip(error)) outcome[task.taskId] = 'skipped';
          else if (isReschedule(error)) outcome[task.taskId] = 'rescheduled';
          else throw new Error(`${dag!.dagId}.${task.taskId} failed: ${(error as Error).stack}`);
        }
      }
      for (const [taskId, state] of Object.entries(outcome)) {
        expect(`${dag!.dagId}.${taskId}:${state}`).toBe(
          `${dag!.dagId}.${taskId}:${EXPECTED_SKIPS.has(`${dag!.dagId}.${taskId}`) ? 'skipped' : 'success'}`,
        );
      }
      if (dag!.dagId === 'example_taskflow_etl')
        expect(xcom.values.get('transform|total_order_value')).toBe(1236.7);
      if (dag!.dagId === 'example_dynamic_task_mapping') {
        expect(xcom.values.get('sum_it|return_value')).toBe(9);
        expect(xcom.values.get('multiply|return_value')).toEqual([10, 20, 30, 40]);
      }
      if (dag!.dagId === 'example_xcom')
        expect(xcom.values.get('bash_push|manually_pushed_value')).toBe('manually_pushed_value');
    },
    30_000,
  );
});
