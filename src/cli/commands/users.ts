import { Option } from 'commander';
import { UsageError } from '../../errors.js';
import { randomPassword } from '../../security/password.js';
import {
  addRole,
  createUser,
  deleteUser,
  findUser,
  listUsers,
  removeRole,
  ROLE_NAMES,
  type UserRef,
} from '../../users/index.js';
import { outputOption, jsonOption, type OutputOpts, type RegisterCommand } from '../command-kit.js';
import { printRows } from '../output.js';
import { readPassword } from '../read-password.js';
import { migratedStore } from '../metadata-store.js';

type RefOpts = { username?: string; email?: string };

function userRef(opts: RefOpts): UserRef {
  if (opts.username && opts.email) throw new UsageError('Pass either -u USERNAME or -e EMAIL, not both.');
  if (opts.username) return { username: opts.username };
  if (opts.email) return { email: opts.email };
  throw new UsageError('Pass -u USERNAME or -e EMAIL to say which user.');
}

const roleHelp = `role (${ROLE_NAMES.join(', ')})`;

export const registerUsers: RegisterCommand = (program, cli) => {
  const users = program.command('users').description('Manage users and their roles');

  users
    .command('create')
    .description('Create a user')
    .requiredOption('-r, --role <role>', roleHelp)
    .requiredOption('-u, --username <username>', 'username')
    .requiredOption('-e, --email <email>', 'email address')
    .requiredOption('-f, --firstname <name>', 'first name')
    .requiredOption('-l, --lastname <name>', 'last name')
    .addOption(
      new Option('-p, --password <password>', 'password (asked for when omitted)').conflicts(
        'useRandomPassword',
      ),
    )
    .option('--use-random-password', 'generate a random password and print it once')
    .action(
      async (opts: {
        role: string;
        username: string;
        email: string;
        firstname: string;
        lastname: string;
        password?: string;
        useRandomPassword?: boolean;
      }) => {
        const store = await migratedStore(cli);
        // As in Airflow: an existing username is reported and is not an error (start-up scripts
        // under `set -e` create their admin on every boot). Nothing about the user is changed.
        if (await findUser(store, { username: opts.username })) {
          console.log(`${opts.username} already exist in the db`);
          return;
        }
        // Without -p or --use-random-password, ask (as Airflow does); a pipe may supply it.
        const password = opts.password ?? (opts.useRandomPassword ? randomPassword() : await readPassword());
        const user = await createUser(store, {
          username: opts.username,
          email: opts.email,
          firstName: opts.firstname,
          lastName: opts.lastname,
          password,
          roles: [opts.role],
        });
        console.log(`User "${user.username}" created with role "${opts.role}"`);
        if (opts.useRandomPassword) console.log(`Generated password (shown only this once): ${password}`);
      },
    );

  users
    .command('list')
    .description('List users')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(async (opts: OutputOpts) => {
      const rows = (await listUsers(await migratedStore(cli))).map((u) => ({
        id: u.id,
        username: u.username,
        email: u.email,
        first_name: u.firstName,
        last_name: u.lastName,
        roles: u.roles,
      }));
      printRows(rows, ['id', 'username', 'email', 'first_name', 'last_name', 'roles'], opts.output);
    });

  users
    .command('delete')
    .description('Delete a user')
    .option('-u, --username <username>', 'username of the user')
    .option('-e, --email <email>', 'email of the user')
    .action(async (opts: RefOpts) => {
      const user = await deleteUser(await migratedStore(cli), userRef(opts));
      console.log(`User "${user.username}" deleted`);
    });

  for (const [name, verb] of [
    ['add-role', 'Add a role to a user'],
    ['remove-role', 'Remove a role from a user'],
  ] as const) {
    users
      .command(name)
      .description(verb)
      .option('-u, --username <username>', 'username of the user')
      .option('-e, --email <email>', 'email of the user')
      .requiredOption('-r, --role <role>', roleHelp)
      .action(async (opts: RefOpts & { role: string }) => {
        const store = await migratedStore(cli);
        const ref = userRef(opts);
        const user =
          name === 'add-role'
            ? await addRole(store, ref, opts.role)
            : await removeRole(store, ref, opts.role);
        console.log(
          name === 'add-role'
            ? `User "${user.username}" added to role "${opts.role}"`
            : `User "${user.username}" removed from role "${opts.role}"`,
        );
      });
  }
};
