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
}

export type Check = (ctx: HealthContext) => Promise<CheckResult[]>;

export function overall(checks: CheckResult[]): CheckStatus {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'warn')) return 'warn';
  return 'ok';
}

/** Exit code of `updraft health`: 0 healthy, 1 warnings, 2 failures. */
export function healthExitCode(status: CheckStatus): number {
  return status === 'ok' ? 0 : status === 'warn' ? 1 : 2;
}
