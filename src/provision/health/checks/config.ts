import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ini from 'ini';
import { loadConfig } from '../../../config/load.js';
import { errorMessage } from '../../../errors.js';
import { renderAirflowCfg } from '../../playbooks/orchestrator.js';
import { sq } from '../../remote/shell.js';
import type { Check, CheckResult, HealthContext } from '../types.js';

/** The settings a node cannot work without, compared between the host's airflow.cfg and the stack's. */
const KEY_SETTINGS: [section: string, key: string][] = [
  ['core', 'executor'],
  ['core', 'dags_folder'],
  ['database', 'sql_alchemy_conn'],
  ['celery', 'broker_url'],
  ['webserver', 'secret_key'],
  ['core', 'fernet_key'],
];

export function settingDrift(actual: string, expected: string): string[] {
  const a = ini.parse(actual) as Record<string, Record<string, string> | undefined>;
  const e = ini.parse(expected) as Record<string, Record<string, string> | undefined>;
  return KEY_SETTINGS.filter(([s, k]) => String(a[s]?.[k] ?? '') !== String(e[s]?.[k] ?? '')).map(
    ([s, k]) => `[${s}] ${k}`,
  );
}

/** Validate the text with the orchestrator's own loader, as the services on the host will load it. */
async function validate(ctx: HealthContext, text: string): Promise<string | null> {
  const dir = await mkdtemp(join(tmpdir(), 'updraft-health-'));
  try {
    const file = join(dir, 'airflow.cfg');
    await writeFile(file, text, { mode: 0o600 });
    loadConfig({ file, env: { AIRFLOW_HOME: ctx.stack.airflow.home } });
    return null;
  } catch (e) {
    return ctx.mask(errorMessage(e));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const configChecks: Check = async (ctx) => {
  const { home, user } = ctx.stack.airflow;
  const path = `${home}/airflow.cfg`;
  const results: CheckResult[] = [];
  const started = performance.now();
  // The file and its mode at the same time: two round trips overlap.
  const [text, st] = await Promise.all([
    ctx.host.readFile(path),
    ctx.host.exec(`stat -c '%a %U %G' ${sq(path)}`, { quiet: true, allowFailure: true }),
  ]);
  const readMs = Math.round(performance.now() - started);
  if (text === null)
    return [
      {
        id: 'config.file',
        group: 'config',
        status: 'fail',
        finding: `${path} is missing`,
        fix: 'config',
        durationMs: readMs,
      },
    ];
  const invalid = await validate(ctx, text);
  results.push(
    invalid
      ? {
          id: 'config.valid',
          group: 'config',
          status: 'fail',
          finding: `${path} does not load`,
          evidence: invalid,
          fix: 'config',
        }
      : { id: 'config.valid', group: 'config', status: 'ok', finding: `${path} parses and validates` },
  );
  const [mode, owner, group] = st.stdout.trim().split(' ');
  results.push(
    mode === '600' && owner === user
      ? { id: 'config.mode', group: 'config', status: 'ok', finding: `mode 0600, owned by ${user}` }
      : {
          id: 'config.mode',
          group: 'config',
          status: 'fail',
          finding: `mode 0${mode ?? '?'} owned by ${owner ?? '?'}:${group ?? '?'}; it holds the database and broker passwords and must be 0600, owned by ${user}`,
          fix: 'config',
        },
  );
  const drift = settingDrift(text, renderAirflowCfg(ctx));
  results.push(
    drift.length > 0
      ? {
          id: 'config.settings',
          group: 'config',
          status: 'fail',
          finding: `differs from the stack in ${drift.join(', ')}`,
          fix: 'config',
        }
      : {
          id: 'config.settings',
          group: 'config',
          status: 'ok',
          finding: 'executor, connection URL, broker URL and keys match the stack',
        },
  );
  // One read serves every finding; validating and comparing take no round trip.
  const durationMs = Math.round(performance.now() - started);
  return results.map((r) => ({ ...r, durationMs }));
};
