import { AuthenticationError, TooManyRequestsError } from '../../errors.js';
import { recordAudit } from '../data/audit.js';
import type { GuardDeps } from './guard.js';
import { signIn, type Principal } from './users.js';

/**
 * The one sign-in check for the UI form and API basic auth: takes a rate-limit ticket before the
 * password is checked, audits failures (event failed_login, as Airflow's UI does), and gives the
 * ticket back on success.
 */
export async function checkSignIn(
  deps: GuardDeps,
  username: string,
  password: string,
  address: string,
): Promise<Principal> {
  const ticket = await deps.limiter.take(username, address);
  if (!ticket) throw new TooManyRequestsError('Too many failed sign-ins. Wait a minute and try again.');
  const principal = await signIn(deps.store, username, password);
  if (!principal) {
    await recordAudit(deps.db, {
      event: 'failed_login',
      owner: username.slice(0, 100),
      extra: { ip: address },
    });
    throw new AuthenticationError('Invalid username or password.');
  }
  await deps.limiter.succeeded(ticket);
  return principal;
}
