import { parseDate } from '../../dag-runs/run-id.js';
import { ValidationError } from '../../errors.js';
import type { WebContext } from '../web-context.js';

/** limit/offset query parameters, validated and capped by [api] maximum_page_limit. */
export function paging(web: WebContext, query: Record<string, unknown>): { limit: number; offset: number } {
  const { maximum_page_limit, fallback_page_limit } = web.app.config.values.api;
  const limit = optionalInt(query.limit, 'limit') ?? fallback_page_limit;
  const offset = optionalInt(query.offset, 'offset') ?? 0;
  if (limit < 1) throw new ValidationError('limit must be at least 1.');
  if (offset < 0) throw new ValidationError('offset must not be negative.');
  return { limit: Math.min(limit, maximum_page_limit), offset };
}

export function optionalInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n)) throw new ValidationError(`${name} must be an integer, got "${String(value)}".`);
  return n;
}

export function optionalBool(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ValidationError(`${name} must be true or false, got "${String(value)}".`);
}

/** A query parameter given once or repeated (?tags=a&tags=b), or comma-separated. */
export function listParam(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value : [value];
  return values
    .flatMap((v) => String(v).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

export function optionalInstant(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ValidationError(`${name} must be an ISO-8601 date-time string.`);
  return parseDate(value, name);
}
