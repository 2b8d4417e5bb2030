import { ConfigError } from '../errors.js';
import type { KeySpec } from './schema.js';

const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);

/** Turn one raw string into the typed value its spec asks for, or fail naming section, key and form. */
export function parseValue(section: string, key: string, spec: KeySpec, raw: string): unknown {
  const value = raw.trim();
  const fail = (form: string): never => {
    throw new ConfigError(
      `[${section}] ${key} = ${JSON.stringify(raw)} is not valid: expected ${form}.`,
      section,
      key,
    );
  };
  switch (spec.type) {
    case 'string':
      return value;
    case 'bool': {
      const lower = value.toLowerCase();
      if (TRUE.has(lower)) return true;
      if (FALSE.has(lower)) return false;
      return fail('a boolean (True or False)');
    }
    case 'int': {
      if (!/^[-+]?\d+$/.test(value)) return fail('a whole number');
      const n = Number(value);
      if (spec.min !== undefined && n < spec.min) return fail(`a whole number of at least ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) return fail(`a whole number of at most ${spec.max}`);
      return n;
    }
    case 'float': {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n)) return fail('a number');
      if (spec.min !== undefined && n < spec.min) return fail(`a number of at least ${spec.min}`);
      return n;
    }
    case 'enum': {
      const match = spec.values.find((v) => v.toLowerCase() === value.toLowerCase());
      return match ?? fail(`one of ${spec.values.join(', ')}`);
    }
    case 'list':
      return value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
  }
}

/** The string form of a typed value, as airflow.cfg and `config get-value` show it. */
export function formatValue(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}
