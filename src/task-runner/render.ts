import { jsonSafe, type BaseOperator } from '../dag/base-operator.js';
import type { TaskContext } from '../dag/execution.js';
import { renderTemplates } from '../dag/templates.js';
import { processSecrets } from '../security/secrets-masker.js';

/**
 * Render an operator's templated fields with the task context (dag/templates.ts does the work)
 * and return them as JSON-safe data for task_instance.rendered_fields and `tasks render`, with
 * secrets the templates read (and values under sensitive-looking keys) masked.
 */
export async function renderTaskFields(
  operator: BaseOperator,
  context: TaskContext,
): Promise<Record<string, unknown>> {
  const rendered = await renderTemplates(operator, context);
  return processSecrets.redactValue(
    Object.fromEntries(Object.entries(rendered).map(([k, v]) => [k, jsonSafe(v)])),
  );
}
