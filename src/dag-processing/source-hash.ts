import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

/**
 * The hash that decides whether a DAG file must be parsed again. A DAG file that imports local
 * modules (`import { defaults } from './common.ts'`) changes when any of them changes, so the
 * recorded hash covers the file and each local module esbuild bundled with it (packages are not
 * bundled and do not count). dag_code keeps the hash and the list of those modules, so any
 * process, after a restart too, can tell an unchanged file from one whose helper was edited.
 * A file without local imports keeps the plain sha256 of its source.
 */

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Content hashes by (mtime, size): an unchanged file costs one stat per pass. */
const hashCache = new Map<string, { mtimeMs: number; size: number; hash: string }>();

/**
 * The hash of a file whose size and mtime are those last hashed, with a synchronous stat; undefined
 * when it must be read again (or is gone): then fileHash. For a worker's check before every try:
 * the stat is a metadata lookup the kernel answers from its cache (NFS's attribute cache too),
 * while as an async call it cost a thread-pool round trip, 3 ms p50 on a loaded 2-core host.
 */
export function knownFileHash(file: string): { hash: string } | undefined {
  const cached = hashCache.get(file);
  if (!cached) return undefined;
  try {
    const info = statSync(file);
    return info.mtimeMs === cached.mtimeMs && info.size === cached.size ? { hash: cached.hash } : undefined;
  } catch {
    return undefined;
  }
}

/** sha256 of a file's content, and the content when it had to be read; undefined if it is gone. */
export async function fileHash(file: string): Promise<{ hash: string; source?: string } | undefined> {
  try {
    const info = await stat(file);
    const cached = hashCache.get(file);
    if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return { hash: cached.hash };
    const source = await readFile(file, 'utf8');
    const hash = sha256(source);
    hashCache.set(file, { mtimeMs: info.mtimeMs, size: info.size, hash });
    return { hash, source };
  } catch {
    return undefined;
  }
}

/** The file's own hash combined with its local modules' (sorted, so the order esbuild read them in does not matter). */
export function combineHashes(
  ownHash: string,
  dependencies: readonly { file: string; hash: string }[],
): string {
  if (dependencies.length === 0) return ownHash;
  const parts = [...dependencies].sort((a, b) => a.file.localeCompare(b.file));
  return sha256([ownHash, ...parts.map((d) => `${d.file}\u0000${d.hash}`)].join('\n'));
}

/**
 * The combined hash for `ownHash` and the modules listed, read now; undefined when a module is
 * gone or unreadable (the file must then be parsed again, and the import reports what is missing).
 */
export async function hashWithDependencies(
  ownHash: string,
  dependencies: readonly string[],
): Promise<string | undefined> {
  const hashed: { file: string; hash: string }[] = [];
  for (const file of dependencies) {
    const h = await fileHash(file);
    if (!h) return undefined;
    hashed.push({ file, hash: h.hash });
  }
  return combineHashes(ownHash, hashed);
}

/** dag_code.dependencies: a JSON array of absolute paths, or null for none. */
export function encodeDependencies(files: readonly string[]): string | null {
  return files.length === 0 ? null : JSON.stringify([...files].sort());
}

export function decodeDependencies(value: string | null | undefined): string[] {
  if (!value) return [];
  try {
    const parsed = JSON.parse(value) as unknown;
    return Array.isArray(parsed) ? parsed.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}
