import { UsageError, ValidationError } from '../../errors.js';
import {
  addConnection,
  connectionToUri,
  deleteConnection,
  listConnections,
  maskSecret,
  parseConnectionEnvValue,
  parseConnectionUri,
  requireConnection,
  validateConnId,
  validateExtra,
  getConnection,
  type ConnectionFields,
  type ConnectionInfo,
} from '../../connections/index.js';
import { outputOption, jsonOption, type OutputOpts, type RegisterCommand } from '../command-kit.js';
import { printRows } from '../output.js';
import { readJsonObject, writeJsonFile } from '../json-file.js';
import { migratedStore } from '../metadata-store.js';

const COLUMNS = [
  'conn_id',
  'conn_type',
  'description',
  'host',
  'port',
  'schema',
  'login',
  'password',
  'extra',
  'source',
];

/** A connection as commands print it: the password never in clear. */
function row(c: ConnectionInfo) {
  return {
    conn_id: c.connId,
    conn_type: c.connType,
    description: c.description ?? null,
    host: c.host ?? null,
    port: c.port ?? null,
    schema: c.schema ?? null,
    login: c.login ?? null,
    password: maskSecret(c.password),
    extra: c.extra ?? null,
    source: c.source,
  };
}

interface AddOpts {
  connUri?: string;
  connJson?: string;
  connType?: string;
  connHost?: string;
  connLogin?: string;
  connPassword?: string;
  connPort?: string;
  connSchema?: string;
  connExtra?: string;
  connDescription?: string;
}

function fieldsFrom(connId: string, opts: AddOpts): ConnectionFields {
  const separate = [
    opts.connType,
    opts.connHost,
    opts.connLogin,
    opts.connPassword,
    opts.connPort,
    opts.connSchema,
  ];
  const forms = [
    opts.connUri !== undefined,
    opts.connJson !== undefined,
    separate.some((v) => v !== undefined),
  ];
  if (forms.filter(Boolean).length > 1) {
    throw new UsageError(
      'Pass the connection as --conn-uri, as --conn-json, or as --conn-type/--conn-host/... options; not several.',
    );
  }
  let fields: ConnectionFields;
  if (opts.connUri !== undefined) fields = parseConnectionUri(connId, opts.connUri);
  else if (opts.connJson !== undefined) {
    if (!opts.connJson.trim().startsWith('{')) throw new ValidationError('--conn-json takes a JSON object.');
    fields = parseConnectionEnvValue(connId, opts.connJson);
  } else {
    if (!opts.connType)
      throw new UsageError('Pass --conn-uri URI, --conn-json JSON, or at least --conn-type TYPE.');
    let port: number | null = null;
    if (opts.connPort !== undefined) {
      port = Number(opts.connPort);
      if (!/^\d+$/.test(opts.connPort))
        throw new ValidationError(`Invalid --conn-port '${opts.connPort}': expected a number.`);
    }
    fields = {
      connId,
      connType: opts.connType,
      host: opts.connHost ?? null,
      login: opts.connLogin ?? null,
      password: opts.connPassword ?? null,
      port,
      schema: opts.connSchema ?? null,
    };
  }
  if (opts.connExtra !== undefined) fields.extra = opts.connExtra;
  if (opts.connDescription !== undefined) fields.description = opts.connDescription;
  return fields;
}

export const registerConnections: RegisterCommand = (program, cli) => {
  const connections = program.command('connections').description('Manage connections');

  connections
    .command('add <conn_id>')
    .description('Add a connection, given as a URI, as JSON, or field by field')
    .option('--conn-uri <uri>', 'connection URI, e.g. postgres://user:pass@host:5432/db?sslmode=require')
    .option('--conn-json <json>', 'connection as JSON: {"conn_type": ..., "host": ..., ...}')
    .option('--conn-type <type>', 'connection type, e.g. postgres, http, aws')
    .option('--conn-host <host>', 'host')
    .option('--conn-login <login>', 'login')
    .option('--conn-password <password>', 'password')
    .option('--conn-port <port>', 'port')
    .option('--conn-schema <schema>', 'schema')
    .option('--conn-extra <json>', 'extra, a JSON object')
    .option('--conn-description <text>', 'description')
    .action(async (connId: string, opts: AddOpts) => {
      const ctx = cli.context();
      const conn = await addConnection(await migratedStore(cli), ctx.fernet, fieldsFrom(connId, opts));
      console.log(
        `Successfully added \`conn_id\`=${conn.connId} : ${connectionToUri({ ...conn, password: maskSecret(conn.password) })}`,
      );
    });

  connections
    .command('get <conn_id>')
    .description('Show a connection (AIRFLOW_CONN_<ID> takes precedence; the password is masked)')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(async (connId: string, opts: OutputOpts) => {
      const ctx = cli.context();
      const conn = await requireConnection(await migratedStore(cli), ctx.fernet, connId, cli.env);
      printRows([row(conn)], COLUMNS, opts.output);
    });

  connections
    .command('list')
    .description('List connections stored in the metadata DB (passwords masked)')
    .option('--conn-id <conn_id>', 'only this connection')
    .addOption(outputOption())
    .addOption(jsonOption())
    .action(async (opts: OutputOpts & { connId?: string }) => {
      const ctx = cli.context();
      const all = await listConnections(await migratedStore(cli), ctx.fernet);
      printRows(all.filter((c) => !opts.connId || c.connId === opts.connId).map(row), COLUMNS, opts.output);
    });

  connections
    .command('delete <conn_id>')
    .description('Delete a connection')
    .action(async (connId: string) => {
      await deleteConnection(await migratedStore(cli), connId);
      console.log(`Successfully deleted connection with \`conn_id\`=${connId}`);
    });
  connections
    .command('import <file>')
    .description('Add connections from a JSON file {"conn_id": {"conn_type": ..., "host": ..., ...}}')
    .option('--overwrite', 'replace connections that already exist (default: skip them)')
    .action(async (file: string, opts: { overwrite?: boolean }) => {
      // Parse and check every entry before writing any.
      const entries = Object.entries(await readJsonObject(file)).map(([connId, spec]) => {
        validateConnId(connId);
        const fields = parseConnectionEnvValue(connId, JSON.stringify(spec ?? {}));
        if (!fields.connType) throw new ValidationError(`Connection ${connId} in ${file} needs "conn_type".`);
        if (fields.extra) fields.extra = validateExtra(connId, fields.extra);
        return fields;
      });
      const ctx = cli.context();
      const store = await migratedStore(cli);
      let imported = 0;
      for (const fields of entries) {
        if (await getConnection(store, ctx.fernet, fields.connId, {})) {
          if (!opts.overwrite) {
            process.stderr.write(
              `Could not import connection ${fields.connId}: connection already exists.\n`,
            );
            continue;
          }
          await deleteConnection(store, fields.connId);
        }
        await addConnection(store, ctx.fernet, fields);
        imported++;
      }
      console.log(`Imported ${imported} of ${entries.length} connection(s) from ${file}`);
    });

  connections
    .command('export <file>')
    .description('Write every stored connection to a JSON file (mode 0600: passwords are in clear)')
    .action(async (file: string) => {
      const ctx = cli.context();
      const all = await listConnections(await migratedStore(cli), ctx.fernet);
      const out = Object.fromEntries(
        all.map((c) => [
          c.connId,
          {
            conn_type: c.connType,
            description: c.description ?? null,
            host: c.host ?? null,
            login: c.login ?? null,
            password: c.password ?? null,
            schema: c.schema ?? null,
            port: c.port ?? null,
            extra: c.extra ?? null,
          },
        ]),
      );
      await writeJsonFile(file, out);
      console.log(`Connections successfully exported to ${file}`);
    });
};
