import type { Connection } from 'mysql2/promise';
import type { HostFacts } from '../engine/facts.js';
import type { RemoteHost } from '../remote/types.js';
import type { Stack } from '../stack/schema.js';
import type { StackSecrets } from '../stack/secrets.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/**
 * What `repair` can do about a failed check. Each maps to playbook steps the engine re-applies
 * (they converge only what drifted) and, where a playbook cannot see the fault, an extra action.
 */
export type FixId =
  | 'redis-service'
  | 'redis-config'
  | 'database-service'
  | 'database-user'
  | 'database-grants'
  | 'schema'
  | 'config'
  | 'units'
  | 'unit-overrides';

export interface CheckResult {
  /** Stable id, e.g. redis.auth, mysql.grants, services.updraft-worker. */
  id: string;
  group: 'host' | 'redis' | 'mysql' | 'config' | 'services';
  status: CheckStatus;
  /** One line: what was found. */
  finding: string;
  /** For a failure or warning: the log lines or command output behind it (secrets masked). */
  evidence?: string;
  /** The repair that addresses it; absent when repair cannot (the finding says what a person should do). */
  fix?: FixId;
  /**
   * How long the check took, from the start of its probe to its finding (checks read from one
   * probe share its time; they run concurrently, so these do not add up to the report's).
   */
  durationMs?: number;
}

export interface HealthReport {
  stack: string;
  host: string;
  os: string;
  checkedAt: string;
  durationMs: number;
  status: CheckStatus;
  checks: CheckResult[];
}

/** What every check gets: one open connection to the host and the stack's expectations. */
export interface HealthContext {
  host: RemoteHost;
  facts: HostFacts;
  stack: Stack;
  secrets: StackSecrets;
  mask(text: string): string;
  /**
   * The one session as the stack's database user, through the tunnel (opened on first use, shared
   * by the checks that read the database; rejects when it cannot sign in).
   */
  database(): Promise<Connection>;
  /** How long opening the connection and reading the host's facts took (host.ssh and host.os). */
  timings: { connectMs: number; factsMs: number };
}

export type Check = (ctx: HealthContext) => Promise<CheckResult[]>;

/** Run one probe and stamp the findings it yields with its duration. */
export async function timed(probe: () => Promise<CheckResult | CheckResult[]>): Promise<CheckResult[]> {
  const started = performance.now();
  const found = await probe();
  const durationMs = Math.round(performance.now() - started);
  return (Array.isArray(found) ? found : [found]).map((c) => ({
    ...c,
    durationMs: c.durationMs ?? durationMs,
  }));
}

export function overall(checks: CheckResult[]): CheckStatus {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'warn')) return 'warn';
  return 'ok';
}

/** Exit code of `updraft health`: 0 healthy, 1 warnings, 2 failures. */
export function healthExitCode(status: CheckStatus): number {
  return status === 'ok' ? 0 : status === 'warn' ? 1 : 2;
}
