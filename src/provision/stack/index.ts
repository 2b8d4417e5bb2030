import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ValidationError } from '../../errors.js';
import { parseStack, type Stack } from './schema.js';

export * from './schema.js';
export * from './secrets.js';

/** Read and validate a stack file; relative paths in it are taken from the file's folder. */
export async function loadStackFile(path: string): Promise<Stack> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ValidationError(`--stack ${path}: cannot read the stack file (${(e as Error).message})`);
  }
  const stack = parseStack(text, path);
  const base = dirname(resolve(path));
  if (stack.airflow.dags) stack.airflow.dags = resolve(base, stack.airflow.dags);
  if (stack.host.key)
    stack.host.key = resolve(base, stack.host.key.replace(/^~(?=\/)/, process.env['HOME'] ?? '~'));
  return stack;
}
