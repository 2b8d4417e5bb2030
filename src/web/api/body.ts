import { ValidationError } from '../../errors.js';

/**
 * Names every unknown top-level field of a JSON body at once. The body's JSON schema refuses them
 * too (additionalProperties: false), but Ajv stops at its first error: collecting all of them
 * (allErrors) would let one 1 MB array make hundreds of thousands of error objects.
 */
export function refuseUnknownFields(schema: Record<string, unknown>, body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const known = (schema.properties ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(body).filter((key) => !Object.hasOwn(known, key));
  if (unknown.length === 0) return;
  const listed = unknown.slice(0, 20).map((k) => `'${k}'`);
  if (unknown.length > 20) listed.push(`and ${unknown.length - 20} more`);
  throw new ValidationError(
    `Unknown body field${unknown.length > 1 ? 's' : ''} ${listed.join(', ')}: ` +
      `this endpoint accepts ${Object.keys(known).join(', ')}.`,
  );
}
