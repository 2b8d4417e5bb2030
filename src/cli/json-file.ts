import { readFile, writeFile } from 'node:fs/promises';
import { NotFoundError, ValidationError } from '../errors.js';

/** Read a JSON object file for the `… import` commands, with errors naming the file. */
export async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`File ${path} does not exist.`);
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError(`${path} must hold a JSON object ({"name": …}).`);
  }
  return parsed as Record<string, unknown>;
}

/** Write an export file; it may hold secrets, so only the owner may read it. */
export async function writeJsonFile(path: string, data: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
}
