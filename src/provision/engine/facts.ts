import { ValidationError } from '../../errors.js';
import type { RemoteHost } from '../remote/types.js';

export type OsFamily = 'al2' | 'al2023' | 'debian12' | 'ubuntu2204' | 'ubuntu2404';
export type PackageManager = 'yum' | 'dnf' | 'apt';

export interface HostFacts {
  family: OsFamily;
  /** PRETTY_NAME from /etc/os-release. */
  prettyName: string;
  packageManager: PackageManager;
  /** Node's name for the CPU: x64 or arm64. */
  arch: 'x64' | 'arm64';
  /** Whether /run/systemd/system exists (systemd is PID 1). */
  systemd: boolean;
}

export const OS_FAMILIES: Record<OsFamily, { packageManager: PackageManager; label: string }> = {
  al2: { packageManager: 'yum', label: 'Amazon Linux 2' },
  al2023: { packageManager: 'dnf', label: 'Amazon Linux 2023' },
  debian12: { packageManager: 'apt', label: 'Debian 12' },
  ubuntu2204: { packageManager: 'apt', label: 'Ubuntu 22.04' },
  ubuntu2404: { packageManager: 'apt', label: 'Ubuntu 24.04' },
};

/** Parse /etc/os-release into a supported family, or say which ones are supported. */
export function familyFromOsRelease(text: string): { family: OsFamily; prettyName: string } {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) fields.set(m[1], m[2].replace(/^["']|["']$/g, ''));
  }
  const id = fields.get('ID') ?? '';
  const version = fields.get('VERSION_ID') ?? '';
  const prettyName = fields.get('PRETTY_NAME') ?? `${id} ${version}`;
  const family: OsFamily | undefined =
    id === 'amzn' && version === '2'
      ? 'al2'
      : id === 'amzn' && version.startsWith('2023')
        ? 'al2023'
        : id === 'debian' && version === '12'
          ? 'debian12'
          : id === 'ubuntu' && version === '22.04'
            ? 'ubuntu2204'
            : id === 'ubuntu' && version === '24.04'
              ? 'ubuntu2404'
              : undefined;
  if (!family) {
    throw new ValidationError(
      `Unsupported operating system: ${prettyName}. Supported: Amazon Linux 2, Amazon Linux 2023, Debian 12, Ubuntu 22.04 and 24.04.`,
    );
  }
  return { family, prettyName };
}

export async function gatherFacts(host: RemoteHost): Promise<HostFacts> {
  // Both at once: each is a round trip to the host.
  const [osRelease, probe] = await Promise.all([
    host.readFile('/etc/os-release'),
    host.exec('uname -m; test -d /run/systemd/system && echo systemd || echo no-systemd'),
  ]);
  if (osRelease === null)
    throw new ValidationError(`${host.label}: /etc/os-release is missing; cannot tell the operating system.`);
  const { family, prettyName } = familyFromOsRelease(osRelease);
  const [machine, init] = probe.stdout.trim().split('\n');
  const arch = machine === 'aarch64' ? 'arm64' : machine === 'x86_64' ? 'x64' : undefined;
  if (!arch)
    throw new ValidationError(
      `${host.label}: unsupported CPU ${machine ?? '?'} (x86_64 and aarch64 are supported).`,
    );
  return {
    family,
    prettyName,
    packageManager: OS_FAMILIES[family].packageManager,
    arch,
    systemd: init === 'systemd',
  };
}
