import { NODE_BIN, COMPONENTS } from '../../playbooks/layout.js';
import { componentsFor } from '../../playbooks/services.js';
import { sq } from '../../remote/shell.js';
import type { Check, CheckResult, HealthContext } from '../types.js';
import { journal, unitState } from './systemd.js';

/** A unit that restarted this often since it was last started on purpose is looping. */
const RESTART_LOOP = 3;

/** The orchestrator's own verdict (`/api/v1/health`, the same report `/health` serves), read on the host's loopback. */
interface NodeHealth {
  metadatabase?: { status?: string };
  scheduler?: { status?: string; latest_scheduler_heartbeat?: string | null };
  workers?: { status?: string | null; alive?: number };
}

async function nodeHealth(ctx: HealthContext): Promise<NodeHealth | string> {
  const js = `fetch('http://127.0.0.1:${ctx.stack.airflow.web_port}/api/v1/health').then(r=>r.text()).then(t=>console.log(t),e=>{console.error(String(e.cause??e));process.exit(1)})`;
  const r = await ctx.host.exec(`${NODE_BIN}/node -e ${sq(js)}`, {
    quiet: true,
    allowFailure: true,
    timeoutMs: 15_000,
  });
  if (r.code !== 0) return (r.stderr || r.stdout).trim() || `exit ${r.code}`;
  try {
    return JSON.parse(r.stdout) as NodeHealth;
  } catch {
    return r.stdout.trim().slice(0, 500);
  }
}

async function importErrors(ctx: HealthContext): Promise<CheckResult> {
  const r = await ctx.host.exec(
    `runuser -u ${sq(ctx.stack.airflow.user)} -- /usr/local/bin/updraft dags list-import-errors --no-parse -o json`,
    {
      quiet: true,
      allowFailure: true,
      timeoutMs: 60_000,
    },
  );
  let errors: { filepath?: string; filename?: string; error?: string; stacktrace?: string }[] = [];
  try {
    errors = JSON.parse(r.stdout) as typeof errors;
  } catch {
    return {
      id: 'services.import-errors',
      group: 'services',
      status: 'warn',
      finding: 'could not list DAG import errors',
      evidence: ctx.mask((r.stderr || r.stdout).trim().slice(-1500)),
    };
  }
  return errors.length > 0
    ? {
        id: 'services.import-errors',
        group: 'services',
        status: 'warn',
        finding: `${errors.length} DAG file(s) fail to import`,
        evidence: errors
          .map((e) => `${e.filepath ?? e.filename ?? '?'}: ${(e.error ?? e.stacktrace ?? '').split('\n')[0]}`)
          .join('\n'),
      }
    : { id: 'services.import-errors', group: 'services', status: 'ok', finding: 'no DAG import errors' };
}

export const serviceChecks: Check = async (ctx) => {
  const results: CheckResult[] = [];
  const components = componentsFor(ctx.stack.airflow.executor);
  for (const c of components) {
    const unit = COMPONENTS[c].unit;
    const s = await unitState(ctx.host, unit);
    const ours = (p: string) => p.startsWith(`/etc/systemd/system/${unit}.service.d/`);
    const overrides = s.dropIns.filter(ours);
    if (s.active === 'active' && s.restarts < RESTART_LOOP && s.enabled === 'enabled') {
      results.push({
        id: `services.${unit}`,
        group: 'services',
        status: 'ok',
        finding: `${unit} active, enabled${s.restarts ? `, ${s.restarts} restart(s)` : ''}`,
      });
      continue;
    }
    const looping = s.restarts >= RESTART_LOOP || s.sub === 'auto-restart';
    results.push({
      id: `services.${unit}`,
      group: 'services',
      status: 'fail',
      finding: looping
        ? `${unit} is restart-looping (${s.restarts} restarts, now ${s.active}/${s.sub})${overrides.length ? `; local overrides: ${overrides.join(', ')}` : ''}`
        : `${unit} is ${s.active}/${s.sub}, ${s.enabled} at boot`,
      evidence: await journal(ctx.host, unit),
      fix: overrides.length > 0 ? 'unit-overrides' : 'units',
    });
  }
  const health = await nodeHealth(ctx);
  if (typeof health === 'string') {
    results.push({
      id: 'services.health',
      group: 'services',
      status: 'fail',
      finding: `/health does not answer on port ${ctx.stack.airflow.web_port}`,
      evidence: ctx.mask(health),
      fix: 'units',
    });
    return results;
  }
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
  if (components.includes('worker')) {
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
  results.push(await importErrors(ctx));
  return results;
};
