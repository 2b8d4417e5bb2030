/**
 * Airflow's five built-in roles, each including everything the one before it may do:
 * Public < Viewer < User < Op < Admin. Migration 0001 seeds them.
 */
export const ROLE_NAMES = ['Public', 'Viewer', 'User', 'Op', 'Admin'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export function isRoleName(name: string): name is RoleName {
  return (ROLE_NAMES as readonly string[]).includes(name);
}

/** Rank of a role in the hierarchy (Public 0 … Admin 4); -1 for a role we do not know. */
export function roleRank(name: string): number {
  return (ROLE_NAMES as readonly string[]).indexOf(name);
}

/** The highest built-in role among `roles`, or undefined when there is none. */
export function highestRole(roles: readonly string[]): RoleName | undefined {
  let best: RoleName | undefined;
  for (const r of roles) if (isRoleName(r) && (best === undefined || roleRank(r) > roleRank(best))) best = r;
  return best;
}

/** Whether a user holding `roles` may do what `required` may. */
export function hasAtLeastRole(roles: readonly string[], required: RoleName): boolean {
  return roles.some((r) => roleRank(r) >= roleRank(required));
}
