import { createHash } from 'node:crypto';
import { mkdir, readFile, appendFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HostKeyMismatchError } from '../../errors.js';

/**
 * The tool's own known-hosts file (trust on first use): one line per host, "[host]:port
 * SHA256:fingerprint". A host that later shows a different key is a hard stop.
 */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

export function hostId(address: string, port: number): string {
  return `[${address}]:${port}`;
}

export async function readKnownHosts(path: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  for (const line of text.split('\n')) {
    const [id, fp] = line.trim().split(/\s+/);
    if (id && fp && !id.startsWith('#')) map.set(id, fp);
  }
  return map;
}

export type HostKeyVerdict =
  | { kind: 'known' }
  | { kind: 'new'; fingerprint: string }
  | { kind: 'changed'; expected: string; got: string };

export function judgeHostKey(known: Map<string, string>, id: string, key: Buffer): HostKeyVerdict {
  const got = fingerprint(key);
  const expected = known.get(id);
  if (expected === undefined) return { kind: 'new', fingerprint: got };
  if (expected === got) return { kind: 'known' };
  return { kind: 'changed', expected, got };
}

export async function rememberHostKey(path: string, id: string, fp: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await appendFile(path, `${id} ${fp}\n`, { mode: 0o600 });
}

export function hostKeyChanged(
  id: string,
  expected: string,
  got: string,
  path: string,
): HostKeyMismatchError {
  return new HostKeyMismatchError(
    `The SSH host key of ${id} has changed: recorded ${expected}, offered ${got}. ` +
      `This may be a new instance at the same address, or someone in the middle. If you know the host was rebuilt, ` +
      `remove its line from ${path} and run again.`,
  );
}
