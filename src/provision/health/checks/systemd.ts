import { sq } from '../../remote/shell.js';
import type { RemoteHost } from '../../remote/types.js';

export interface UnitState {
  active: string;
  sub: string;
  enabled: string;
  restarts: number;
  /** Drop-in files that change the unit (systemctl's DropInPaths). */
  dropIns: string[];
}

/** One `systemctl show` for the properties health needs. */
export async function unitState(host: RemoteHost, unit: string): Promise<UnitState> {
  const r = await host.exec(
    `systemctl show ${sq(unit)} -p ActiveState -p SubState -p NRestarts -p UnitFileState -p DropInPaths 2>/dev/null`,
    { quiet: true, allowFailure: true },
  );
  const props = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) props.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return {
    active: props.get('ActiveState') || 'unknown',
    sub: props.get('SubState') || 'unknown',
    enabled: props.get('UnitFileState') || 'not-found',
    restarts: Number(props.get('NRestarts') ?? 0) || 0,
    dropIns: (props.get('DropInPaths') ?? '').split(/\s+/).filter(Boolean),
  };
}

/** The unit's newest log lines, as evidence for a failure. */
export async function journal(host: RemoteHost, unit: string, lines = 15): Promise<string> {
  const r = await host.exec(`journalctl -u ${sq(unit)} -n ${lines} --no-pager -o short-iso 2>&1`, {
    quiet: true,
    allowFailure: true,
  });
  return r.stdout.trim();
}
