import { readFileSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { AppContext } from '../context.js';
import type { MetadataDb } from '../db/index.js';
import type { Database } from '../db/tables.js';
import type { GuardDeps } from './auth/guard.js';
import type { ServedSecrets } from './data/served-secrets.js';

/** What every route module needs: the app context, the database and the auth plumbing. */
export interface WebContext {
  app: AppContext;
  db: Kysely<Database>;
  /** The same database as `db`, in the form the shared services take. */
  store: MetadataDb;
  guard: GuardDeps;
  /** Masks secrets in logs, rendered fields and XComs before they are served. */
  secrets: ServedSecrets;
}

export const UPDRAFT_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();

export function healthThresholds(app: AppContext) {
  return { schedulerSeconds: app.config.values.scheduler.scheduler_health_check_threshold };
}
