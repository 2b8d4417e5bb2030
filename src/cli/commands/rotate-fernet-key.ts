import { rotateFernetKey } from '../../security/rotate-fernet-key.js';
import type { RegisterCommand } from '../command-kit.js';
import { migratedStore } from '../metadata-store.js';

export const registerRotateFernetKey: RegisterCommand = (program, cli) => {
  program
    .command('rotate-fernet-key')
    .description('Re-encrypt stored variables and connection secrets with the first key of [core] fernet_key')
    .action(async () => {
      const result = await rotateFernetKey(await migratedStore(cli), cli.context().fernet);
      console.log(`Re-encrypted ${result.variables} variable(s) and ${result.connections} connection(s).`);
    });
};
