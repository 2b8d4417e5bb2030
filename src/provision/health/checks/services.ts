import { errorMessage } from '../../../errors.js';
import { COMPONENTS } from '../../playbooks/layout.js';
import { componentsFor } from '../../playbooks/services.js';
import { timed, type Check, type CheckResult, type HealthContext } from '../types.js';
import { importErrorRows } from './mysql.js';
import { journal, unitStates } from './systemd.js';

/** A unit that restarted this often since it was last started on purpose is looping. */
const RESTART_LOOP = 3;

/** The orchestrator's own verdict (`/api/v1/health`, the same report `/health` serves), read on the host's loopback. */
interface NodeHealth {
  metadatabase?: { status?: string };
  scheduler?: { status?: string; latest_scheduler_heartbeat?: string | null };
  workers?: { status?: string | null; alive?: number };
}

async function nodeHealth(ctx: HealthContext): Promise<NodeHealth | string> {
  // Through a tunnel to the host's loopback, from this process: no Node start on the host.
  const reach = await ctx.host.reach({ port: ctx.stack.airflow.web_port });
  try {
    const { endpoint } = reach;
    if (endpoint.kind !== 'tcp') return 'the webserver port cannot be reached over TCP';
    const res = await fetch(`http://${endpoint.host}:${endpoint.port}/api/v1/health`, {
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    try {
      return JSON.parse(text) as NodeHealth;
    } catch {
      return `HTTP ${res.status}: ${text.trim().slice(0, 500)}`;
    }
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    return `no answer from port ${ctx.stack.airflow.web_port} on the host: ${errorMessage(cause ?? e)}`;
  } finally {
    await reach.close();
  }
}

/** Import errors from the metadata DB's import_error table, on the checks' shared database session. */
async function importErrors(ctx: HealthContext): Promise<CheckResult> {
  let errors: { filename: string; stacktrace: string }[];
  try {
    errors = await importErrorRows(await ctx.database());
  } catch (e) {
    return {
      id: 'services.import-errors',
      group: 'services',
      status: 'warn',
      finding: 'could not list DAG import errors (the metadata database cannot be read)',
      evidence: ctx.mask(errorMessage(e)),
    };
  }
  return errors.length > 0
    ? {
        id: 'services.import-errors',
        group: 'services',
        status: 'warn',
        finding: `${errors.length} DAG file(s) fail to import`,
        evidence: errors.map((e) => `${e.filename}: ${e.stacktrace.split('\n')[0]}`).join('\n'),
      }
    : { id: 'services.import-errors', group: 'services', status: 'ok', finding: 'no DAG import errors' };
}

async function unitChecks(ctx: HealthContext, units: string[]): Promise<CheckResult[]> {
  const states = await unitStates(ctx.host, units);
  return Promise.all(
    units.map(async (unit, i): Promise<CheckResult> => {
      const s = states[i]!;
      const ours = (p: string) => p.startsWith(`/etc/systemd/system/${unit}.service.d/`);
      const overrides = s.dropIns.filter(ours);
      if (s.active === 'active' && s.restarts < RESTART_LOOP && s.enabled === 'enabled') {
        return {
          id: `services.${unit}`,
          group: 'services',
          status: 'ok',
          finding: `${unit} active, enabled${s.restarts ? `, ${s.restarts} restart(s)` : ''}`,
        };
      }
      const looping = s.restarts >= RESTART_LOOP || s.sub === 'auto-restart';
      return {
        id: `services.${unit}`,
        group: 'services',
        status: 'fail',
        finding: looping
          ? `${unit} is restart-looping (${s.restarts} restarts, now ${s.active}/${s.sub})${overrides.length ? `; local overrides: ${overrides.join(', ')}` : ''}`
          : `${unit} is ${s.active}/${s.sub}, ${s.enabled} at boot`,
        evidence: await journal(ctx.host, unit),
        fix: overrides.length > 0 ? 'unit-overrides' : 'units',
      };
    }),
  );
}

function healthChecks(ctx: HealthContext, health: NodeHealth | string, withWorkers: boolean): CheckResult[] {
  if (typeof health === 'string')
    return [
      {
        id: 'services.health',
        group: 'services',
        status: 'fail',
        finding: `/health does not answer on port ${ctx.stack.airflow.web_port}`,
        evidence: ctx.mask(health),
        fix: 'units',
      },
    ];
  const results: CheckResult[] = [];
  const db = health.metadatabase?.status;
  const sched = health.scheduler;
  results.push(
    db === 'healthy'
      ? {
          id: 'services.health',
          group: 'services',
          status: 'ok',
          finding: '/health answers; metadatabase healthy',
        }
      : {
          id: 'services.health',
          group: 'services',
          status: 'fail',
          finding: `/health reports the metadatabase ${db ?? 'unknown'}`,
          evidence: JSON.stringify(health),
          fix: 'database-service',
        },
  );
  results.push(
    sched?.status === 'healthy'
      ? {
          id: 'services.scheduler-heartbeat',
          group: 'services',
          status: 'ok',
          finding: `scheduler heartbeat fresh (${sched.latest_scheduler_heartbeat ?? '?'})`,
        }
      : {
          id: 'services.scheduler-heartbeat',
          group: 'services',
          status: 'fail',
          finding: `scheduler heartbeat ${sched?.latest_scheduler_heartbeat ? `stale since ${sched.latest_scheduler_heartbeat}` : 'missing'}`,
          fix: 'units',
        },
  );
  if (withWorkers) {
    const alive = health.workers?.alive ?? 0;
    results.push(
      alive > 0
        ? { id: 'services.workers', group: 'services', status: 'ok', finding: `${alive} live worker(s)` }
        : {
            id: 'services.workers',
            group: 'services',
            status: 'fail',
            finding: 'no live worker: queued tasks will not run',
            fix: 'units',
          },
    );
  }
  return results;
}

/** Units, the orchestrator's own /health report and the import errors, read at the same time. */
export const serviceChecks: Check = async (ctx) => {
  const components = componentsFor(ctx.stack.airflow.executor);
  const [units, health, imports] = await Promise.all([
    timed(() =>
      unitChecks(
        ctx,
        components.map((c) => COMPONENTS[c].unit),
      ),
    ),
    timed(async () => healthChecks(ctx, await nodeHealth(ctx), components.includes('worker'))),
    timed(() => importErrors(ctx)),
  ]);
  return [...units, ...health, ...imports];
};
