import { parseDate } from '../../dag-runs/run-id.js';
import { ValidationError } from '../../errors.js';

/**
 * The one parser of /api/v1 query strings. Every endpoint declares the parameters it knows
 * (QuerySpec); anything else, and any value that does not fit, is a 400 naming the parameter, so
 * a misspelt filter or an unsupported order_by never silently returns everything.
 */
export type QueryParam =
  | { kind: 'int'; min: number; max: number; description?: string }
  | { kind: 'bool'; description?: string }
  | { kind: 'string'; description?: string }
  /** Given repeated (?state=a&state=b) or comma-separated; each value one of `values` when set. */
  | { kind: 'list'; values?: readonly string[]; description?: string }
  /** An ISO 8601 date-time, parsed to epoch milliseconds. */
  | { kind: 'date'; description?: string }
  /** A field name, `-` first for descending (Airflow's order_by). */
  | { kind: 'order_by'; fields: readonly string[]; description?: string };

export type QuerySpec = Readonly<Record<string, QueryParam>>;

export interface OrderBy {
  field: string;
  desc: boolean;
}

export type QueryValue = number | boolean | string | string[] | OrderBy;
export type ParsedQuery = Record<string, QueryValue | undefined>;

/**
 * Offsets and limits are bounded well inside every database's integer range (an offset of 1e21
 * used to reach the SQL driver and fail there as a 500).
 */
export const MAX_QUERY_INT = 2_147_483_647;

export const PAGING: QuerySpec = {
  limit: {
    kind: 'int',
    min: 1,
    max: MAX_QUERY_INT,
    description: 'Page size (capped by [api] maximum_page_limit)',
  },
  offset: { kind: 'int', min: 0, max: MAX_QUERY_INT, description: 'Entries to skip' },
};

export function parseQuery(spec: QuerySpec, raw: unknown): ParsedQuery {
  const given = (raw ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(given).filter((key) => !Object.hasOwn(spec, key));
  if (unknown.length > 0) {
    const known = Object.keys(spec);
    throw new ValidationError(
      `Unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}: ` +
        (known.length ? `this endpoint accepts ${known.join(', ')}.` : 'this endpoint accepts none.'),
    );
  }
  const parsed: ParsedQuery = {};
  for (const [name, param] of Object.entries(spec)) {
    const value = given[name];
    if (value === undefined || value === '') continue;
    parsed[name] = parseParam(name, param, value);
  }
  return parsed;
}

function parseParam(name: string, param: QueryParam, value: unknown): QueryValue {
  if (param.kind === 'list') {
    const values = (Array.isArray(value) ? value : [value])
      .flatMap((v) => String(v).split(','))
      .map((s) => s.trim())
      .filter(Boolean);
    const allowed = param.values;
    const wrong = allowed ? values.filter((v) => !allowed.includes(v)) : [];
    if (wrong.length > 0)
      throw new ValidationError(
        `${name} has unknown value${wrong.length > 1 ? 's' : ''} ${wrong.map((v) => `'${v}'`).join(', ')}: ` +
          `expected any of ${allowed!.join(', ')}.`,
      );
    return values;
  }
  if (Array.isArray(value)) throw new ValidationError(`${name} may be given only once.`);
  const text = String(value);
  switch (param.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(text)) throw new ValidationError(`${name} must be a whole number, got '${text}'.`);
      const n = Number(text);
      if (n < param.min || n > param.max)
        throw new ValidationError(`${name} must be between ${param.min} and ${param.max}, got ${text}.`);
      return n;
    }
    case 'bool':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new ValidationError(`${name} must be true or false, got '${text}'.`);
    case 'string':
      return text;
    case 'date':
      return parseDate(text, name);
    case 'order_by': {
      const desc = text.startsWith('-');
      const field = desc ? text.slice(1) : text;
      if (!param.fields.includes(field))
        throw new ValidationError(
          `Ordering with '${field}' is disallowed or the attribute does not exist: order_by accepts ` +
            `${param.fields.join(', ')} (with - first for descending).`,
        );
      return { field, desc };
    }
  }
}

/** The query parameters as OpenAPI describes them. */
export function openApiQueryParameters(spec: QuerySpec): Record<string, unknown>[] {
  return Object.entries(spec).map(([name, param]) => ({
    name,
    in: 'query',
    required: false,
    ...(param.description ? { description: param.description } : {}),
    ...(param.kind === 'list' ? { style: 'form', explode: true } : {}),
    schema: openApiSchema(param),
  }));
}

function openApiSchema(param: QueryParam): Record<string, unknown> {
  switch (param.kind) {
    case 'int':
      return { type: 'integer', minimum: param.min, maximum: param.max };
    case 'bool':
      return { type: 'boolean' };
    case 'string':
      return { type: 'string' };
    case 'list':
      return {
        type: 'array',
        items: param.values ? { type: 'string', enum: param.values } : { type: 'string' },
      };
    case 'date':
      return { type: 'string', format: 'date-time' };
    case 'order_by':
      return { type: 'string', enum: param.fields.flatMap((f) => [f, `-${f}`]) };
  }
}
