/** Users and roles: the API the CLI, the webserver and `standalone` use. */
export {
  authenticate,
  addRole,
  createUser,
  deleteUser,
  findUser,
  getUserWithRoles,
  listRoles,
  listUsers,
  removeRole,
  setPassword,
  type NewUser,
  type UserInfo,
  type UserRef,
} from './service.js';
export { ROLE_NAMES, hasAtLeastRole, highestRole, isRoleName, roleRank, type RoleName } from './roles.js';
