import { NotFoundError, ValidationError } from '../../errors.js';
import {
  deleteVariable,
  getVariable,
  listVariableKeys,
  listVariables,
  validateVariableKey,
  parseVariableJson,
  setVariable,
} from '../../variables/index.js';
import { outputOption, jsonOption, type OutputOpts, type RegisterCommand } from '../command-kit.js';
import { printRows } from '../output.js';
import { readJsonObject, writeJsonFile } from '../json-file.js';
import { migratedStore } from '../metadata-store.js';

export const registerVariables: RegisterCommand = (program, cli) => {
  const variables = program.command('variables').description('Manage variables');

  variables
    .command('set <key> <value>')
    .description('Set a variable (created, or replaced if it exists)')
    .option('--description <text>', 'description of the variable')
    .option('-j, --serialize-json', 'VALUE is JSON: check it and store it normalized')
    .action(async (key: string, value: string, opts: { description?: string; serializeJson?: boolean }) => {
      let stored = value;
      if (opts.serializeJson) {
        try {
          stored = JSON.stringify(JSON.parse(value));
        } catch {
          throw new ValidationError(`The value of ${key} is not valid JSON (it was passed with -j).`);
        }
      }
      const ctx = cli.context();
      await setVariable(await migratedStore(cli), ctx.fernet, key, stored, opts.description);
      console.log(`Variable ${key} created`);
    });

  variables
    .command('get <key>')
    .description('Print the value of a variable (AIRFLOW_VAR_<KEY> takes precedence)')
    .option('-d, --default <value>', 'print this when the variable does not exist')
    .option('-j, --deserialize-json', 'parse the value as JSON and print it formatted')
    .action(async (key: string, opts: { default?: string; deserializeJson?: boolean }) => {
      const ctx = cli.context();
      const value = await getVariable(await migratedStore(cli), ctx.fernet, key, cli.env);
      if (value === undefined) {
        if (opts.default === undefined) throw new NotFoundError(`Variable ${key} does not exist.`);
        console.log(opts.default);
        return;
      }
      console.log(opts.deserializeJson ? JSON.stringify(parseVariableJson(key, value), null, 2) : value);
    });

  variables
    .command('list')
    .description('List variables (keys and descriptions; values stay hidden)')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(async (opts: OutputOpts) => {
      const rows = (await listVariableKeys(await migratedStore(cli))).map((v) => ({
        key: v.key,
        description: v.description,
        is_encrypted: v.isEncrypted,
      }));
      printRows(rows, ['key', 'description', 'is_encrypted'], opts.output);
    });

  variables
    .command('delete <key>')
    .description('Delete a variable')
    .action(async (key: string) => {
      await deleteVariable(await migratedStore(cli), key);
      console.log(`Variable ${key} deleted`);
    });
  variables
    .command('import <file>')
    .description('Set variables from a JSON file {"key": value, ...} (non-string values are stored as JSON)')
    .action(async (file: string) => {
      const entries = Object.entries(await readJsonObject(file));
      // Check every key before writing any, so a bad file changes nothing.
      for (const [key] of entries) validateVariableKey(key);
      const ctx = cli.context();
      const store = await migratedStore(cli);
      for (const [key, value] of entries) {
        await setVariable(store, ctx.fernet, key, typeof value === 'string' ? value : JSON.stringify(value));
      }
      console.log(`${entries.length} of ${entries.length} variables successfully updated.`);
    });

  variables
    .command('export <file>')
    .description('Write every variable to a JSON file (mode 0600: values are in clear)')
    .action(async (file: string) => {
      const ctx = cli.context();
      const all = await listVariables(await migratedStore(cli), ctx.fernet);
      const out: Record<string, unknown> = {};
      for (const v of all) {
        try {
          out[v.key] = JSON.parse(v.value);
        } catch {
          out[v.key] = v.value;
        }
      }
      await writeJsonFile(file, out);
      console.log(`${all.length} variables successfully exported to ${file}`);
    });
};
