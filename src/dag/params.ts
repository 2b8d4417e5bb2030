import { Ajv, type ValidateFunction } from 'ajv';
import { ValidationError } from '../errors.js';
import type { ParamSpec } from './serialized.js';

/**
 * A DAG parameter with a default and an optional JSON schema, like Airflow's Param:
 * `params: { n: new Param(5, { type: 'integer', minimum: 1 }) }` or plain values `params: { n: 5 }`.
 */
export class Param {
  readonly schema: Record<string, unknown>;
  readonly description: string | null;
  constructor(
    readonly value: unknown,
    options: Record<string, unknown> & { description?: string } = {},
  ) {
    const { description, ...schema } = options;
    this.description = description ?? null;
    this.schema = schema;
  }
}

export type ParamsInput = Record<string, unknown>;

export function serializeParams(params: ParamsInput | undefined): Record<string, ParamSpec> {
  const out: Record<string, ParamSpec> = {};
  for (const [name, raw] of Object.entries(params ?? {})) {
    if (raw instanceof Param || isParamLike(raw)) {
      const p = raw as Param;
      const spec: ParamSpec = {};
      if (p.value !== undefined) spec.default = p.value;
      if (p.description) spec.description = p.description;
      if (Object.keys(p.schema).length > 0) spec.schema = p.schema;
      out[name] = spec;
    } else {
      out[name] = { default: raw };
    }
  }
  return out;
}

// A Param from another copy of this module (src vs dist) is still a Param.
function isParamLike(v: unknown): boolean {
  return (
    typeof v === 'object' && v !== null && v.constructor?.name === 'Param' && 'schema' in v && 'value' in v
  );
}

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();
function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (!v) {
    ajv ??= new Ajv({ allErrors: true, strict: false });
    try {
      v = ajv.compile(schema);
    } catch (error) {
      throw new ValidationError(`Invalid param schema ${key}: ${(error as Error).message}`);
    }
    compiled.set(key, v);
  }
  return v;
}

/** Check each declared schema compiles (at DAG load, so a bad schema is an import error). */
export function checkParamSchemas(params: Record<string, ParamSpec>): void {
  for (const [name, spec] of Object.entries(params)) {
    if (spec.schema) {
      try {
        validatorFor(spec.schema);
      } catch (error) {
        throw new ValidationError(`Param '${name}': ${(error as Error).message}`);
      }
    }
  }
}

/**
 * The params a run gets: declared defaults overlaid with the run's conf, each validated against
 * its schema. Throws ValidationError naming every failing param; changes nothing.
 */
export function validateParams(
  params: Record<string, ParamSpec>,
  conf: Record<string, unknown> = {},
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(params)) if ('default' in spec) result[name] = spec.default;
  for (const [name, value] of Object.entries(conf)) result[name] = value;
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(params)) {
    if (!spec.schema) continue;
    const value = result[name];
    if (value === undefined) {
      problems.push(`param '${name}' is required but has no value`);
      continue;
    }
    const validate = validatorFor(spec.schema);
    if (!validate(value)) {
      const why = (validate.errors ?? [])
        .map((e) => `${e.instancePath || 'value'} ${e.message ?? 'is invalid'}`)
        .join('; ');
      problems.push(`param '${name}' = ${JSON.stringify(value)}: ${why}`);
    }
  }
  if (problems.length > 0) throw new ValidationError(`Invalid params: ${problems.join('; ')}`);
  return result;
}
