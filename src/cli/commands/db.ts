import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseError, UsageError } from '../../errors.js';
import { dropAll, migrateToLatest, migrationStatus, redactUrl } from '../../db/index.js';
import type { RegisterCommand } from '../command-kit.js';

export const registerDb: RegisterCommand = (program, cli) => {
  const db = program.command('db').description('Database operations');

  const migrate = async () => {
    const ctx = cli.context();
    const store = await ctx.db();
    const applied = await migrateToLatest(store);
    console.log(
      applied.length
        ? `Applied migrations: ${applied.join(', ')}`
        : 'The database schema is already up to date.',
    );
    console.log(
      `Metadata database: ${redactUrl(ctx.config.values.database.sql_alchemy_conn)} (${store.capabilities.serverVersion})`,
    );
  };

  db.command('init')
    .description('Initialize the metadata database (creates airflow.cfg if missing)')
    .action(migrate);
  db.command('migrate')
    .description('Migrate the metadata database to the latest version (idempotent)')
    .action(migrate);
  db.command('upgrade').description('Deprecated alias of `db migrate`').action(migrate);

  db.command('check')
    .description('Check that the metadata database can be reached')
    .option('--retry <n>', 'times to retry on failure', '0')
    .option('--retry-delay <seconds>', 'seconds between retries', '1')
    .action(async (opts: { retry: string; retryDelay: string }) => {
      const retries = Number(opts.retry);
      const delay = Number(opts.retryDelay);
      if (!Number.isInteger(retries) || retries < 0)
        throw new UsageError('--retry takes a whole number of at least 0.');
      if (!Number.isFinite(delay) || delay < 0)
        throw new UsageError('--retry-delay takes a number of seconds.');
      const ctx = cli.context();
      for (let attempt = 0; ; attempt++) {
        try {
          const store = await ctx.db();
          console.log(`Connection successful: ${store.capabilities.serverVersion}`);
          return;
        } catch (error) {
          await ctx.close();
          if (attempt >= retries) throw error;
          process.stderr.write(
            `Connection failed (attempt ${attempt + 1} of ${retries + 1}); retrying in ${delay}s\n`,
          );
          await sleep(delay * 1000);
        }
      }
    });

  db.command('check-migrations')
    .description('Wait until every migration is applied (exit 10 if not by the timeout)')
    .option('-t, --migration-wait-timeout <seconds>', 'seconds to wait', '60')
    .action(async (opts: { migrationWaitTimeout: string }) => {
      const deadline = Date.now() + Number(opts.migrationWaitTimeout) * 1000;
      const store = await cli.context().db();
      for (;;) {
        const status = await migrationStatus(store);
        if (status.pending.length === 0) {
          console.log(`All migrations are applied (${status.applied.length}).`);
          return;
        }
        if (Date.now() >= deadline) {
          throw new DatabaseError(
            `Migrations pending: ${status.pending.join(', ')}. Run \`updraft db migrate\`.`,
          );
        }
        await sleep(1000);
      }
    });

  db.command('reset')
    .description('Drop every table and create the schema again (all data is lost)')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (opts: { yes?: boolean }) => {
      if (!opts.yes) throw new UsageError('db reset deletes all data; pass -y to confirm.');
      const store = await cli.context().db();
      await dropAll(store);
      await migrateToLatest(store);
      console.log('The metadata database was reset.');
    });
};
