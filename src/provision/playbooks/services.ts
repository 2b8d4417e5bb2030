import { TimeoutError } from '../../errors.js';
import type { RunContext } from '../engine/context.js';
import { file, service, type Resource } from '../engine/resources.js';
import { renderTemplate } from '../engine/templates.js';
import { sq } from '../remote/shell.js';
import { COMPONENTS, CURRENT, NODE_BIN, type Component } from './layout.js';
import { DATABASE_LAYOUT } from './mysql.js';
import { REDIS_LAYOUT } from './redis.js';
import type { Playbook } from './types.js';

export function componentsFor(executor: string): Component[] {
  return executor === 'CeleryExecutor' ? ['scheduler', 'webserver', 'worker'] : ['scheduler', 'webserver'];
}

/** The services as systemd units (hardened, after Redis and the database), enabled, started, healthy. */
export const servicesPlaybook: Playbook = ({ facts, stack }) => {
  const after = `${REDIS_LAYOUT[facts.family].service}.service ${DATABASE_LAYOUT[facts.family].service}.service`;
  const resources: Resource[] = [];
  for (const c of componentsFor(stack.airflow.executor)) {
    const { unit, command } = COMPONENTS[c];
    resources.push(
      file({
        path: `/etc/systemd/system/${unit}.service`,
        content: renderTemplate('updraft.service', {
          stack: stack.name,
          component: c,
          after,
          user: stack.airflow.user,
          airflow_home: stack.airflow.home,
          node_bin: NODE_BIN,
          release_dir: CURRENT,
          command,
        }),
        mode: 0o644,
        owner: 'root',
        group: 'root',
        notify: [unit],
      }),
    );
  }
  for (const c of componentsFor(stack.airflow.executor))
    resources.push(service({ name: COMPONENTS[c].unit, daemonReload: true }));
  return [
    {
      id: 'services',
      title: `systemd units: ${componentsFor(stack.airflow.executor).join(', ')}`,
      resources,
      verify: (ctx) => waitHealthy(ctx),
    },
  ];
};

interface HealthBody {
  metadatabase?: { status?: string };
  scheduler?: { status?: string; latest_scheduler_heartbeat?: string | null };
}

/** Script run by the host's own Node: GET /api/v1/health on loopback, print the body. */
function healthProbe(port: number): string {
  const js = `fetch('http://127.0.0.1:${port}/api/v1/health').then(r=>r.text()).then(t=>console.log(t),()=>process.exit(1))`;
  return `${NODE_BIN}/node -e ${sq(js)}`;
}

/** Wait until the webserver answers, the metadatabase is healthy and the scheduler's heartbeat is fresh. */
export async function waitHealthy(ctx: RunContext, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const r = await ctx.host.exec(healthProbe(ctx.stack.airflow.web_port), {
      allowFailure: true,
      quiet: true,
    });
    if (r.code === 0) {
      try {
        const body = JSON.parse(r.stdout) as HealthBody;
        const beat = body.scheduler?.latest_scheduler_heartbeat;
        // "healthy" is the server's own verdict: a heartbeat within scheduler_health_check_threshold
        // by the host's clock (the operator's clock may differ).
        const fresh = typeof beat === 'string' && beat.length > 0;
        if (body.metadatabase?.status === 'healthy' && body.scheduler?.status === 'healthy' && fresh) return;
        last = r.stdout.trim();
      } catch {
        last = r.stdout.trim().slice(0, 200);
      }
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new TimeoutError(
    `The node did not become healthy in ${timeoutMs / 1000} s; last /health: ${last}. See journalctl -u updraft-scheduler -u updraft-webserver on the host.`,
  );
}
