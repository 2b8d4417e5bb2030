import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RemoteError, ValidationError } from '../../errors.js';
import type { OperatorArtifacts } from './context.js';

const run = promisify(execFile);

/** This package's root (src/provision/engine and dist/provision/engine are three levels down). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function hashTree(hash: ReturnType<typeof createHash>, root: string, dir: string): void {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) hashTree(hash, root, path);
    else {
      hash.update(relative(root, path));
      hash.update(readFileSync(path));
    }
  }
}

/** Content id of the release: package files, bin/, dist/, templates/ and the lockfile. */
export function releaseId(root = PACKAGE_ROOT): string {
  const hash = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json']) hash.update(readFileSync(join(root, f)));
  for (const d of ['bin', 'dist', 'templates']) hashTree(hash, root, join(root, d));
  return hash.digest('hex').slice(0, 12);
}

/**
 * What a running node never reads: type declarations, source maps, and better-sqlite3's C sources
 * and build intermediates (only build/Release/better_sqlite3.node is loaded). A third of the bytes.
 */
const RELEASE_EXCLUDES = [
  'node_modules/.bin',
  '*.d.ts',
  '*.d.mts',
  '*.d.cts',
  '*.map',
  'node_modules/*/dist-types',
  'node_modules/better-sqlite3/deps',
  'node_modules/better-sqlite3/src',
  'node_modules/better-sqlite3/build/Release/obj.target',
  'node_modules/better-sqlite3/build/Release/obj',
  'node_modules/better-sqlite3/build/Release/.deps',
  'node_modules/better-sqlite3/build/Release/sqlite3.a',
  'node_modules/better-sqlite3/build/Release/test_extension.node',
];

/** Production dependencies as paths relative to the root, without ones nested in another listed. */
async function productionModules(root: string): Promise<string[]> {
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: root,
    maxBuffer: 32 << 20,
  }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  const paths = stdout
    .split('\n')
    .filter((p) => p.startsWith(root) && p !== root.replace(/\/$/, ''))
    .map((p) => relative(root, p))
    .filter((p) => p.startsWith('node_modules'))
    .sort();
  const kept: string[] = [];
  for (const p of paths) if (!kept.some((k) => p.startsWith(k + sep))) kept.push(p);
  return kept;
}

/** Keep the two newest release tarballs in the cache. */
async function pruneReleases(cacheDir: string, keep: string): Promise<void> {
  const releases = readdirSync(cacheDir)
    .filter((n) => /^updraft-[0-9a-f]{12}\.tgz$/.test(n))
    .map((n) => ({ path: join(cacheDir, n), mtime: statSync(join(cacheDir, n)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const r of releases.slice(2)) if (r.path !== keep) await rm(r.path, { force: true });
}

/** Builds (once per content id) and fetches what the host gets from the operator's machine. */
export function operatorArtifacts(
  cacheDir: string,
  nodeVersion: string,
  arch: 'x64' | 'arm64',
  root = PACKAGE_ROOT,
): OperatorArtifacts {
  let release: Promise<{ file: string; id: string }> | undefined;
  let node: Promise<{ file: string; version: string; id: string }> | undefined;
  return {
    orchestrator() {
      release ??= (async () => {
        if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
          throw new ValidationError(
            `${root}dist is missing: run \`npm run build\` before provisioning from a source checkout.`,
          );
        }
        const id = releaseId(root);
        const file = join(cacheDir, `updraft-${id}.tgz`);
        if (existsSync(file)) return { file, id };
        await mkdir(cacheDir, { recursive: true, mode: 0o700 });
        const modules = await productionModules(root);
        const tmp = `${file}.${process.pid}.tmp`;
        await run(
          'tar',
          [
            '-I',
            'gzip -1',
            '-cf',
            tmp,
            '-C',
            root,
            ...RELEASE_EXCLUDES.map((p) => `--exclude=${p}`),
            'package.json',
            'package-lock.json',
            'bin',
            'dist',
            'templates',
            ...modules,
          ],
          {
            maxBuffer: 32 << 20,
          },
        );
        await rename(tmp, file);
        await pruneReleases(cacheDir, file);
        return { file, id };
      })();
      return release;
    },
    nodeRuntime() {
      node ??= (async () => {
        const pkg = `node-linux-${arch}`;
        const file = join(cacheDir, `${pkg}-${nodeVersion}.tgz`);
        if (!existsSync(file)) {
          await mkdir(cacheDir, { recursive: true, mode: 0o700 });
          const tmpDir = join(cacheDir, `pack-${process.pid}`);
          await mkdir(tmpDir, { recursive: true });
          try {
            await run('npm', ['pack', `${pkg}@${nodeVersion}`, '--pack-destination', tmpDir], {
              cwd: tmpDir,
              maxBuffer: 8 << 20,
            });
            await rename(join(tmpDir, `${pkg}-${nodeVersion}.tgz`), file);
          } catch (e) {
            throw new RemoteError(
              `Cannot fetch ${pkg}@${nodeVersion} from the npm registry: ${(e as Error).message}`,
            );
          } finally {
            await rm(tmpDir, { recursive: true, force: true });
          }
        }
        return { file, version: nodeVersion, id: `${pkg}-${nodeVersion}` };
      })();
      return node;
    },
  };
}
