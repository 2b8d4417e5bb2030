import { existsSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { migrateToLatest } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { randomPassword } from '../../security/password.js';
import { createUser, listUsers } from '../../users/service.js';
import { startWebserver, type RunningWebserver } from '../../web/index.js';
import type { RegisterCommand } from '../command-kit.js';
import { runUntilSignal } from './scheduler.js';

export const ADMIN_PASSWORD_FILE = 'standalone_admin_password.txt';

/**
 * `standalone`: everything for a first look in one process — migrate the metadata DB, create an
 * `admin` user (its password printed once and kept in $AIRFLOW_HOME/standalone_admin_password.txt,
 * mode 0600), then run the scheduler (with the DAG processor) and the webserver until Ctrl+C.
 */
export const registerStandalone: RegisterCommand = (program, cli) => {
  program
    .command('standalone')
    .description(
      'Run an all-in-one local installation: migrate the DB, create an admin user, run scheduler and webserver',
    )
    .option('-p, --port <port>', 'webserver port (default [webserver] web_server_port)', (v) => Number(v))
    .option('--no-webserver', 'run the scheduler only')
    .action(async (opts: { port?: number; webserver: boolean }) => {
      // Like Airflow's standalone, pick the executor for the user: LocalExecutor, which runs tasks in
      // parallel (SQLite in WAL mode takes it), unless AIRFLOW__CORE__EXECUTOR says otherwise.
      cli.env.AIRFLOW__CORE__EXECUTOR ??= 'LocalExecutor';
      const ctx = cli.context();
      console.log(`standalone | Executor: ${ctx.config.values.core.executor}`);
      const metadata = await ctx.db();
      const applied = await migrateToLatest(metadata);
      if (applied.length > 0) ctx.log.info(`standalone: database migrated (${applied.length} migration(s))`);
      const users = await listUsers(metadata);
      const passwordFile = join(ctx.config.home, ADMIN_PASSWORD_FILE);
      if (!users.some((u) => u.username === 'admin')) {
        const password = randomPassword();
        await createUser(metadata, {
          username: 'admin',
          email: 'admin@example.com',
          firstName: 'Admin',
          lastName: 'User',
          password,
          roles: ['Admin'],
        });
        writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
        chmodSync(passwordFile, 0o600);
        console.log(`standalone | Login with username: admin  password: ${password}`);
        console.log(`standalone | (the password is also in ${passwordFile})`);
      } else {
        console.log(
          `standalone | User admin exists${existsSync(passwordFile) ? `; its first password is in ${passwordFile}` : ''}`,
        );
      }
      let web: RunningWebserver | undefined;
      if (opts.webserver) {
        web = await startWebserver(ctx, { port: opts.port });
        console.log(`standalone | Webserver running at ${web.url}`);
      }
      const scheduler = new Scheduler(ctx, { env: cli.env });
      console.log('standalone | Scheduler starting (Ctrl+C to stop everything)');
      try {
        await runUntilSignal(
          () => scheduler.run(),
          () => scheduler.stop(),
        );
      } finally {
        await web
          ?.close()
          .catch((error: unknown) =>
            ctx.log.error(`standalone: webserver did not close cleanly: ${errorMessage(error)}`),
          );
        console.log('standalone | Stopped');
      }
    });
};
