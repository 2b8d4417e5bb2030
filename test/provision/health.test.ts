import { describe, expect, it } from 'vitest';
import { diskFinding, parseDf } from '../../src/provision/health/checks/host.js';
import { listenAddresses } from '../../src/provision/health/checks/redis.js';
import { extraGrants } from '../../src/provision/health/checks/mysql.js';
import { settingDrift } from '../../src/provision/health/checks/config.js';
import { planRepair } from '../../src/provision/health/repair.js';
import { unitStates } from '../../src/provision/health/checks/systemd.js';
import { timed, type CheckResult, type HealthReport } from '../../src/provision/health/types.js';
import type { RemoteHost } from '../../src/provision/remote/types.js';
import type { HostFacts } from '../../src/provision/engine/facts.js';

const debian: HostFacts = {
  family: 'debian12',
  prettyName: 'Debian GNU/Linux 12 (bookworm)',
  packageManager: 'apt',
  arch: 'x64',
  systemd: true,
};

function report(checks: CheckResult[]): HealthReport {
  return { stack: 's', host: 'h', os: 'debian12', checkedAt: '', durationMs: 0, status: 'fail', checks };
}

describe('health findings', () => {
  it('reads df per mount point and warns only when one is nearly full', () => {
    const df = [
      'Filesystem 1024-blocks Used Available Capacity Mounted on',
      '/dev/vda 263174212 180000000 83174212 69% /',
      '/dev/vda 263174212 180000000 83174212 69% /',
      'tmpfs 8192 7800 392 96% /opt/airflow/logs',
    ].join('\n');
    const usages = parseDf(df);
    expect(usages.map((u) => u.mount)).toEqual(['/', '/opt/airflow/logs']);
    const finding = diskFinding(usages);
    expect(finding.status).toBe('warn');
    expect(finding.finding).toContain('/opt/airflow/logs 0 MiB free of 8 MiB (5%)');
    expect(finding.fix).toBeUndefined();
    expect(diskFinding(usages.slice(0, 1)).status).toBe('ok');
  });

  it('lists the addresses a port listens on, from ss', () => {
    const ss = [
      'LISTEN 0 511 127.0.0.1:6379 0.0.0.0:*',
      'LISTEN 0 511 [::1]:6379 [::]:*',
      'LISTEN 0 511 0.0.0.0:6380 0.0.0.0:*',
      'LISTEN 0 511 *:6379 *:*',
    ].join('\n');
    expect(listenAddresses(ss, 6379)).toEqual(['127.0.0.1', '::1', '*']);
  });

  it('calls every grant beyond USAGE and the stack database extra', () => {
    const ok = [
      "GRANT USAGE ON *.* TO `airflow`@`localhost` IDENTIFIED BY PASSWORD '*x'",
      'GRANT ALL PRIVILEGES ON `airflow`.* TO `airflow`@`localhost`',
    ];
    expect(extraGrants(ok, 'airflow')).toEqual([]);
    const wide = [
      ...ok,
      'GRANT ALL PRIVILEGES ON *.* TO `airflow`@`localhost`',
      'GRANT SELECT ON `mysql`.* TO `airflow`@`localhost`',
    ];
    expect(extraGrants(wide, 'airflow')).toEqual(wide.slice(2));
  });

  it('names the key settings of airflow.cfg that differ from the stack', () => {
    const expected =
      '[core]\nexecutor = CeleryExecutor\n[celery]\nbroker_url = redis://:pw@127.0.0.1:6379/0\n[database]\nsql_alchemy_conn = mysql://a\n';
    expect(settingDrift(expected, expected)).toEqual([]);
    const drifted = expected.replace('redis://:pw@127.0.0.1:6379/0', 'redis://10.0.0.9:6379/0');
    expect(settingDrift(drifted, expected)).toEqual(['[celery] broker_url']);
  });
});

describe('health probes', () => {
  it('reads several units from one systemctl show, by Id, and by position for an alias', async () => {
    const commands: string[] = [];
    const host = {
      async exec(command: string) {
        commands.push(command);
        return {
          code: 0,
          stderr: '',
          stdout: [
            'Id=redis-server.service\nActiveState=active\nSubState=running\nNRestarts=0\nUnitFileState=enabled\nDropInPaths=',
            // Asked for as `mysql`, an alias: systemd names the real unit.
            'Id=mariadb.service\nActiveState=failed\nSubState=failed\nNRestarts=4\nUnitFileState=enabled\nDropInPaths=/etc/systemd/system/mariadb.service.d/x.conf',
            'Id=updraft-worker.service\nActiveState=inactive\nSubState=dead\nNRestarts=0\nUnitFileState=disabled\nDropInPaths=',
          ].join('\n\n'),
        };
      },
    } as unknown as RemoteHost;
    const [redis, mysql, worker] = await unitStates(host, ['redis-server', 'mysql', 'updraft-worker']);
    expect(commands).toHaveLength(1);
    expect(redis).toMatchObject({ active: 'active', enabled: 'enabled', restarts: 0, dropIns: [] });
    expect(mysql).toMatchObject({ active: 'failed', restarts: 4 });
    expect(mysql!.dropIns).toEqual(['/etc/systemd/system/mariadb.service.d/x.conf']);
    expect(worker).toMatchObject({ active: 'inactive', sub: 'dead', enabled: 'disabled' });
  });

  it('stamps the findings of a probe with its duration, keeping one a finding has', async () => {
    const found = await timed(async () => {
      await new Promise((r) => setTimeout(r, 60));
      return [
        { id: 'a.one', group: 'host', status: 'ok', finding: 'x' },
        { id: 'a.two', group: 'host', status: 'ok', finding: 'y', durationMs: 5 },
      ] satisfies CheckResult[];
    });
    expect(found[0]!.durationMs).toBeGreaterThanOrEqual(55);
    expect(found[1]!.durationMs).toBe(5);
  });
});

describe('repair plan', () => {
  it('maps each failure to the playbook steps that converge it, in plan order, and leaves warnings alone', () => {
    const plan = planRepair(
      report([
        {
          id: 'services.updraft-scheduler',
          group: 'services',
          status: 'fail',
          finding: 'inactive',
          fix: 'units',
        },
        { id: 'redis.auth', group: 'redis', status: 'fail', finding: 'refuses', fix: 'redis-config' },
        { id: 'mysql.grants', group: 'mysql', status: 'fail', finding: 'wide', fix: 'database-grants' },
        { id: 'config.mode', group: 'config', status: 'fail', finding: '0644', fix: 'config' },
        { id: 'host.disk', group: 'host', status: 'warn', finding: 'nearly full' },
        { id: 'host.clock', group: 'host', status: 'fail', finding: 'skewed' },
      ]),
      debian,
    );
    expect(plan.steps).toEqual(['redis', 'database', 'config', 'services']);
    expect(plan.fixes.map((f) => f.fix)).toEqual(['redis-config', 'database-grants', 'config', 'units']);
    expect(plan.before.map((a) => a.command)).toEqual([
      "systemctl restart 'redis-server'",
      "systemctl reset-failed 'updraft-scheduler' || true",
    ]);
    expect(plan.after).toEqual([]);
    expect(plan.manual).toEqual([
      { check: 'host.clock', finding: 'skewed', next: expect.stringContaining('time synchronisation') },
    ]);
  });

  it("puts a looping unit's local overrides aside instead of deleting them", () => {
    const plan = planRepair(
      report([
        {
          id: 'services.updraft-worker',
          group: 'services',
          status: 'fail',
          finding: 'looping',
          fix: 'unit-overrides',
        },
      ]),
      debian,
    );
    expect(plan.before[0]?.command).toContain('mv "$f" "$f.updraft-disabled"');
    expect(plan.before[0]?.command).not.toMatch(/\brm\b/);
    expect(plan.steps).toEqual(['services']);
  });
});
