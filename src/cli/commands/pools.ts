import { deletePool, getPool, listPools, setPool, type PoolInfo } from '../../pools/index.js';
import { outputOption, type OutputOpts, type RegisterCommand } from '../command-kit.js';
import { printRows } from '../output.js';
import { migratedStore } from './store.js';

const COLUMNS = ['pool', 'slots', 'description', 'include_deferred'];
const row = (p: PoolInfo) => ({
  pool: p.name,
  slots: p.slots,
  description: p.description,
  include_deferred: p.includeDeferred,
});

export const registerPools: RegisterCommand = (program, cli) => {
  const pools = program.command('pools').description('Manage pools');

  pools
    .command('set <name> <slots> <description>')
    .description('Create or update a pool (slots: whole number, -1 for unlimited)')
    .option('--include-deferred', 'count deferred tasks against the pool')
    .addOption(outputOption())
    .action(
      async (
        name: string,
        slots: string,
        description: string,
        opts: OutputOpts & { includeDeferred?: boolean },
      ) => {
        const pool = await setPool(await migratedStore(cli), name, slots, description, {
          includeDeferred: opts.includeDeferred === true,
        });
        printRows([row(pool)], COLUMNS, opts.output);
      },
    );

  pools
    .command('list')
    .description('List pools')
    .addOption(outputOption())
    .action(async (opts: OutputOpts) => {
      printRows((await listPools(await migratedStore(cli))).map(row), COLUMNS, opts.output);
    });

  pools
    .command('get <name>')
    .description('Show one pool')
    .addOption(outputOption())
    .action(async (name: string, opts: OutputOpts) => {
      printRows([row(await getPool(await migratedStore(cli), name))], COLUMNS, opts.output);
    });

  pools
    .command('delete <name>')
    .description('Delete a pool (default_pool cannot be deleted)')
    .action(async (name: string) => {
      await deletePool(await migratedStore(cli), name);
      console.log(`Pool ${name} deleted`);
    });
};
