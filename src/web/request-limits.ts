import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../errors.js';

/**
 * What the webserver accepts from a request before any route sees it: how deep a JSON body may
 * nest, how long a path segment may be, and how a body that fails its JSON schema is described.
 * Every refusal is an error that http-errors.ts turns into a problem+json answer.
 */

/** Deeper JSON reaches recursive code (serializing a run's conf) and overflows its stack: a 500. */
export const MAX_JSON_DEPTH = 100;

/**
 * Longest path segment (a DAG, run or task id as the URL carries it). Ids may be 250 characters,
 * and percent-encoding can triple that (a run id's ":" and "+"), so fastify's default of 100
 * would refuse real ids. Longer segments get 414.
 */
export const MAX_PARAM_LENGTH = 1024;

/** True when `text` (JSON) opens more than `max` nested arrays or objects. One pass, no recursion. */
export function jsonNestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** fastify's JSON body parser (with its prototype-poisoning checks), refusing bodies nested too deep. */
export function boundJsonDepth(server: FastifyInstance): void {
  const parse = server.getDefaultJsonParser('error', 'error');
  server.removeContentTypeParser('application/json');
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonNestingExceeds(text, MAX_JSON_DEPTH)) {
      done(new ValidationError(`The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`), undefined);
      return;
    }
    parse(request, text, done);
  });
}

const JSON_TYPE_WORDS: Record<string, string> = {
  object: 'a JSON object',
  array: 'an array',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

/** The parts of an Ajv error the messages below use. */
interface SchemaError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * fastify's schemaErrorFormatter: a ValidationError naming the offending field ("body must NOT
 * have additional properties", fastify's own words, names none).
 */
export function formatSchemaErrors(errors: SchemaError[], dataVar: string): Error {
  const unknown: string[] = [];
  const problems: string[] = [];
  const where = (path: string) =>
    path ? `${dataVar} field '${path.slice(1).replaceAll('/', '.')}'` : `the ${dataVar}`;
  for (const e of errors) {
    const nested = (name: string) =>
      e.instancePath ? `${e.instancePath.slice(1).replaceAll('/', '.')}.${name}` : name;
    if (e.keyword === 'additionalProperties')
      unknown.push(`'${nested(String(e.params.additionalProperty))}'`);
    else if (e.keyword === 'required')
      problems.push(`missing required ${dataVar} field '${nested(String(e.params.missingProperty))}'`);
    else if (e.keyword === 'type')
      problems.push(
        `${where(e.instancePath)} must be ${String(e.params.type)
          .split(',')
          .map((t) => JSON_TYPE_WORDS[t] ?? t)
          .join(' or ')}`,
      );
    else if (e.keyword === 'enum')
      problems.push(
        `${where(e.instancePath)} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`,
      );
    else problems.push(`${where(e.instancePath)} ${e.message ?? 'is invalid'}`);
  }
  if (unknown.length)
    problems.unshift(`unknown ${dataVar} field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  const unique = [...new Set(problems)];
  const shown =
    unique.slice(0, 10).join('; ') + (unique.length > 10 ? `; and ${unique.length - 10} more` : '');
  return new ValidationError(`Invalid request: ${shown}.`);
}
