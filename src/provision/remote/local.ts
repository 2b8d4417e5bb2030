import { spawn } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { RemoteCommandError, RemoteError } from '../../errors.js';
import { catIfExists, privileged } from './shell.js';
import { silentLog, type CommandLog, type ExecOptions, type ExecResult, type RemoteHost } from './types.js';

/** The machine the tool runs on, as a RemoteHost (`--target local`). */
export function localHost(log: CommandLog = silentLog): RemoteHost {
  const isRoot = userInfo().uid === 0;
  const label = 'local';
  let staging: Promise<string> | undefined;
  const exec = (command: string, options: ExecOptions = {}): Promise<ExecResult> => {
    log.command(label, command);
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', privileged(command, isRoot)], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 15 * 60_000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (!options.quiet) log.output(d.toString());
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (!options.quiet) log.output(d.toString());
      });
      child.on('error', (e) => reject(new RemoteError(`local: cannot run sh: ${e.message}`)));
      child.on('close', (code) => {
        clearTimeout(timer);
        const exitCode = code ?? 255;
        if (exitCode !== 0 && !options.allowFailure) {
          reject(
            new RemoteCommandError(
              `local: \`${command}\` exited ${exitCode}: ${stderr.trim().slice(-2000)}`,
              exitCode,
              stderr,
            ),
          );
        } else resolve({ code: exitCode, stdout, stderr });
      });
      child.stdin.end(options.input ?? '');
    });
  };
  return {
    label,
    exec,
    async upload(localPath, remotePath) {
      log.command(label, `copy ${localPath} ${remotePath}`);
      await copyFile(localPath, remotePath);
    },
    async writeFile(remotePath, content) {
      log.command(label, `write ${remotePath}`);
      await writeFile(remotePath, content, { mode: 0o600 });
    },
    async readFile(remotePath) {
      const r = await exec(catIfExists(remotePath), { allowFailure: true, quiet: true });
      if (r.code === 3) return null;
      if (r.code !== 0)
        throw new RemoteCommandError(
          `local: cannot read ${remotePath}: ${r.stderr.trim()}`,
          r.code,
          r.stderr,
        );
      return r.stdout;
    },
    async reach(target) {
      // This machine: connect directly, nothing to tunnel.
      return {
        endpoint:
          'port' in target
            ? { kind: 'tcp', host: '127.0.0.1', port: target.port }
            : { kind: 'socket', path: target.socketPath },
        close: async () => {},
      };
    },
    stagingDir() {
      staging ??= (async () => {
        const dir = join(homedir(), '.updraft-staging');
        await mkdir(dir, { recursive: true, mode: 0o700 });
        return dir;
      })();
      return staging;
    },
    async close() {},
  };
}
