import { Ajv } from 'ajv';
import type { SerializedDag } from '../../dag/serialized.js';
import { ValidationError } from '../../errors.js';

const ajv = new Ajv({ allErrors: true, strict: false });

/**
 * The conf a run gets: the DAG's param defaults overlaid with what the user sent, each value
 * checked against its param's JSON schema. Unknown keys pass through, as in Airflow.
 */
export function resolveConf(dag: SerializedDag, given: unknown): Record<string, unknown> {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new ValidationError('conf must be a JSON object.');
  }
  const conf: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(dag.params ?? {})) {
    if (spec.default !== undefined) conf[name] = spec.default;
  }
  Object.assign(conf, given);
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(dag.params ?? {})) {
    if (!spec.schema) continue;
    if (!(name in conf)) {
      problems.push(`param "${name}" is required`);
      continue;
    }
    const validate = ajv.compile(spec.schema);
    if (!validate(conf[name])) {
      problems.push(`param "${name}": ${ajv.errorsText(validate.errors, { dataVar: name })}`);
    }
  }
  if (problems.length) throw new ValidationError(`Invalid conf: ${problems.join('; ')}.`);
  return conf;
}
