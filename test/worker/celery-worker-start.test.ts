import { describe, expect, it } from 'vitest';
import { POSTGRES_SERVER } from '../support/databases.js';
import { makeAirflowHome, runUpdraft } from '../support/cli.js';
import { celeryEnv, dropPrefix, freshPrefix } from './celery-support.js';

/**
 * A worker that reaches Redis but whose metadata DB refuses it at start (here: a database that does
 * not exist; on a second host, typically a pg_hba.conf or grant without that host) must end with the
 * database error's exit code. It used to print the error and then hang: its open Redis connection
 * kept the process alive, and a process manager saw a worker that never listened and never exited.
 */
describe('`celery worker` when the metadata DB refuses it at start', () => {
  it('exits with the database code (10), naming the database, instead of hanging on its Redis connection', async () => {
    const prefix = freshPrefix();
    const db = `updraft_absent_${prefix.slice(-6)}`;
    const home = await makeAirflowHome({
      ...celeryEnv(prefix),
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `postgresql://${POSTGRES_SERVER.user}@${POSTGRES_SERVER.host}:${POSTGRES_SERVER.port}/${db}`,
    });
    try {
      const r = await runUpdraft(['celery', 'worker', '-s'], { env: home.env, timeoutMs: 60_000 });
      expect(r.code).toBe(10);
      expect(r.stderr).toContain(`Cannot connect to the metadata database`);
      expect(r.stderr).toContain(db);
    } finally {
      await home.cleanup();
      await dropPrefix(prefix);
    }
  }, 90_000);
});
