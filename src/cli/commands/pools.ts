import { ValidationError } from '../../errors.js';
import {
  deletePool,
  getPool,
  listPools,
  setPool,
  validatePoolName,
  validateSlots,
  type PoolInfo,
} from '../../pools/index.js';
import {
  outputOption,
  jsonOption,
  recordOutputOption,
  type OutputOpts,
  type RecordOutputOpts,
  type RegisterCommand,
} from '../command-kit.js';
import { printRows } from '../output.js';
import { readJsonObject, writeJsonFile } from '../json-file.js';
import { migratedStore } from '../metadata-store.js';

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
    .addOption(jsonOption())
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
    .addOption(jsonOption())
    .action(async (opts: OutputOpts) => {
      printRows((await listPools(await migratedStore(cli))).map(row), COLUMNS, opts.output);
    });

  pools
    .command('get <name>')
    .description('Show one pool')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(async (name: string, opts: OutputOpts) => {
      printRows([row(await getPool(await migratedStore(cli), name))], COLUMNS, opts.output);
    });

  pools
    .command('delete <name>')
    .description('Delete a pool (default_pool cannot be deleted)')
    .addOption(recordOutputOption('the deleted pool'))
    .addOption(jsonOption())
    .action(async (name: string, opts: RecordOutputOpts) => {
      const store = await migratedStore(cli);
      // Read first so that -o can show what was deleted (Airflow prints the pool).
      const pool = opts.output ? await getPool(store, name) : undefined;
      await deletePool(store, name);
      if (opts.output && pool) printRows([row(pool)], COLUMNS, opts.output);
      else console.log(`Pool ${name} deleted`);
    });
  pools
    .command('import <file>')
    .description('Create or update pools from a JSON file {"name": {"slots": n, "description": "..."}}')
    .addOption(recordOutputOption('the imported pools'))
    .addOption(jsonOption())
    .action(async (file: string, opts: RecordOutputOpts) => {
      const entries = Object.entries(await readJsonObject(file)).map(([name, spec]) => {
        const s = (spec ?? {}) as { slots?: unknown; description?: unknown; include_deferred?: unknown };
        if (typeof spec !== 'object' || s.slots === undefined) {
          throw new ValidationError(`Pool ${name} in ${file} needs "slots".`);
        }
        validatePoolName(name);
        return {
          name,
          slots: validateSlots(s.slots as number),
          description: typeof s.description === 'string' ? s.description : null,
          includeDeferred: s.include_deferred === true,
        };
      });
      const store = await migratedStore(cli);
      const saved: PoolInfo[] = [];
      for (const p of entries) {
        saved.push(
          await setPool(store, p.name, p.slots, p.description, { includeDeferred: p.includeDeferred }),
        );
      }
      if (opts.output) printRows(saved.map(row), COLUMNS, opts.output);
      else console.log(`Uploaded ${entries.length} pool(s)`);
    });

  pools
    .command('export <file>')
    .description('Write every pool to a JSON file')
    .action(async (file: string) => {
      const all = await listPools(await migratedStore(cli));
      await writeJsonFile(
        file,
        Object.fromEntries(
          all.map((p) => [
            p.name,
            { slots: p.slots, description: p.description, include_deferred: p.includeDeferred },
          ]),
        ),
      );
      console.log(`Exported ${all.length} pools to ${file}`);
    });
};
