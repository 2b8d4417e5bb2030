import { parseDate } from '../../dag-runs/run-id.js';
import { ValidationError } from '../../errors.js';
import type { WebContext } from '../web-context.js';
import { MAX_QUERY_INT, type OrderBy, type ParsedQuery } from './query.js';

/**
 * limit/offset of a query already checked by parseQuery (query.ts), with the configured default
 * and capped by [api] maximum_page_limit as Airflow caps it.
 */
export function paging(web: WebContext, query: ParsedQuery): { limit: number; offset: number } {
  const { maximum_page_limit, fallback_page_limit } = web.app.config.values.api;
  const limit = (query.limit as number | undefined) ?? fallback_page_limit;
  const offset = (query.offset as number | undefined) ?? 0;
  return { limit: Math.min(limit, maximum_page_limit), offset };
}

export function orderOf(query: ParsedQuery): OrderBy | undefined {
  return query.order_by as OrderBy | undefined;
}

/** A whole number in a path segment (/importErrors/:id, /logs/:task_try_number). */
export function pathInt(value: string | undefined, name: string, min: number): number {
  if (value === undefined || !/^-?\d+$/.test(value))
    throw new ValidationError(`${name} must be a whole number, got '${String(value)}'.`);
  const n = Number(value);
  if (n < min || n > MAX_QUERY_INT)
    throw new ValidationError(`${name} must be between ${min} and ${MAX_QUERY_INT}, got ${value}.`);
  return n;
}

export function optionalInstant(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ValidationError(`${name} must be an ISO-8601 date-time string.`);
  return parseDate(value, name);
}
