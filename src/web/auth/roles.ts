import { PermissionDeniedError } from '../../errors.js';
import { highestRole, ROLE_NAMES, roleRank as rankOf, type RoleName } from '../../users/index.js';

/**
 * Roles and the one permission table. Airflow's built-in roles nest: each role can do everything
 * the one before it can. Every route names the action it performs; `requirePermission` is the
 * only check.
 */
export const ROLES = ROLE_NAMES;
export type { RoleName };

export type Action =
  /** See DAGs, runs, task instances, logs, XComs, code, browse pages. */
  | 'read'
  /** Trigger, clear, pause/unpause, mark success/failed, delete DAGs and runs. */
  | 'operate_dags'
  /** Variables, connections and pools. */
  | 'manage_resources'
  /** Users and roles. */
  | 'manage_users'
  /** The configuration page and /api/v1/config (also needs webserver.expose_config). */
  | 'read_config';

export const PERMISSIONS: Readonly<Record<Action, RoleName>> = {
  read: 'Viewer',
  operate_dags: 'User',
  manage_resources: 'Op',
  manage_users: 'Admin',
  read_config: 'Admin',
};

export function roleRank(role: RoleName): number {
  return rankOf(role);
}

/** The strongest of a user's roles (no known role counts as Public). */
export function effectiveRole(roleNames: readonly string[]): RoleName {
  return highestRole(roleNames) ?? 'Public';
}

export function can(role: RoleName, action: Action): boolean {
  return roleRank(role) >= roleRank(PERMISSIONS[action]);
}

export function requirePermission(role: RoleName, action: Action): void {
  if (!can(role, action)) {
    throw new PermissionDeniedError(
      `Your role (${role}) does not allow this action (needs ${PERMISSIONS[action]}).`,
    );
  }
}
