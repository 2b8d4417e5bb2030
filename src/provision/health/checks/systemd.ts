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
  return (await unitStates(host, [unit]))[0]!;
}

/**
 * The same for several units, in one command (one round trip): systemctl prints one block of
 * properties a unit, in the order asked, separated by a blank line.
 */
export async function unitStates(host: RemoteHost, units: string[]): Promise<UnitState[]> {
  const r = await host.exec(
    `systemctl show ${units.map(sq).join(' ')} -p Id -p ActiveState -p SubState -p NRestarts -p UnitFileState -p DropInPaths 2>/dev/null`,
    { quiet: true, allowFailure: true },
  );
  const blocks = r.stdout
    .split(/\n\s*\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const props = new Map<string, string>();
      for (const line of block.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) props.set(line.slice(0, i), line.slice(i + 1).trim());
      }
      return props;
    });
  const byId = new Map(blocks.map((props) => [(props.get('Id') ?? '').replace(/\.service$/, ''), props]));
  return units.map((unit, index) => {
    // By name; a unit asked for by an alias (mysql for mariadb) reports its real Id: by position.
    const props = byId.get(unit.replace(/\.service$/, '')) ?? blocks[index] ?? new Map<string, string>();
    return {
      active: props.get('ActiveState') || 'unknown',
      sub: props.get('SubState') || 'unknown',
      enabled: props.get('UnitFileState') || 'not-found',
      restarts: Number(props.get('NRestarts') ?? 0) || 0,
      dropIns: (props.get('DropInPaths') ?? '').split(/\s+/).filter(Boolean),
    };
  });
}

/** The unit's newest log lines, as evidence for a failure. */
export async function journal(host: RemoteHost, unit: string, lines = 15): Promise<string> {
  const r = await host.exec(`journalctl -u ${sq(unit)} -n ${lines} --no-pager -o short-iso 2>&1`, {
    quiet: true,
    allowFailure: true,
  });
  return r.stdout.trim();
}
