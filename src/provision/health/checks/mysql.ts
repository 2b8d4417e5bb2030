import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { errorMessage } from '../../../errors.js';
import { MIGRATION_NAMES, MIGRATION_TABLE } from '../../../db/migration-names.js';
import { DATABASE_LAYOUT } from '../../playbooks/mysql.js';
import type { Endpoint, Reach } from '../../remote/types.js';
import { timed, type Check, type CheckResult, type HealthContext } from '../types.js';
import { journal, unitState } from './systemd.js';

function connect(endpoint: Endpoint, user: string, password: string, database: string): Promise<Connection> {
  const where =
    endpoint.kind === 'tcp' ? { host: endpoint.host, port: endpoint.port } : { socketPath: endpoint.path };
  return createConnection({ ...where, user, password, database, connectTimeout: 10_000 });
}

/**
 * A grant line is within bounds when it is USAGE on *.* or a privilege on the stack's database
 * alone. Anything else (ALL ON *.*, another schema, GRANT OPTION on *.*) is wider than the node needs.
 */
export function extraGrants(grants: string[], database: string): string[] {
  const ours = new RegExp(
    `^GRANT .+ ON [\`'"]?${database.replace(/[^A-Za-z0-9_]/g, '')}[\`'"]?\\.\\* TO `,
    'i',
  );
  return grants.filter((g) => !/^GRANT USAGE ON \*\.\* TO /i.test(g) && !ours.test(g));
}

async function rows<T extends RowDataPacket>(conn: Connection, sql: string): Promise<T[]> {
  const [r] = await conn.query<T[]>(sql);
  return r;
}

async function grantsCheck(ctx: HealthContext, conn: Connection): Promise<CheckResult> {
  const { name: db } = ctx.stack.database;
  const grants = (await rows<RowDataPacket>(conn, 'SHOW GRANTS FOR CURRENT_USER()')).map((r) =>
    String(Object.values(r)[0]),
  );
  const extra = extraGrants(grants, db);
  return extra.length > 0
    ? {
        id: 'mysql.grants',
        group: 'mysql',
        status: 'fail',
        finding: `the ${ctx.stack.database.user} user has privileges beyond ${db}.*`,
        evidence: extra.join('\n'),
        fix: 'database-grants',
      }
    : { id: 'mysql.grants', group: 'mysql', status: 'ok', finding: `privileges limited to ${db}.*` };
}

async function settingsChecks(ctx: HealthContext, conn: Connection): Promise<CheckResult[]> {
  const { name: db } = ctx.stack.database;
  const results: CheckResult[] = [];
  const vars = await rows<RowDataPacket>(
    conn,
    'SELECT @@explicit_defaults_for_timestamp AS edt, @@character_set_database AS cs, @@version AS version',
  );
  const v: RowDataPacket = vars[0] ?? ({} as RowDataPacket);
  results.push(
    Number(v['edt']) === 1
      ? {
          id: 'mysql.settings',
          group: 'mysql',
          status: 'ok',
          finding: `${String(v['version'])}: explicit_defaults_for_timestamp on, database charset ${String(v['cs'])}`,
        }
      : {
          id: 'mysql.settings',
          group: 'mysql',
          status: 'fail',
          finding: 'explicit_defaults_for_timestamp is off (Airflow-shaped schemas need it on)',
          fix: 'database-service',
        },
  );
  if (v['cs'] !== undefined && !String(v['cs']).startsWith('utf8mb4')) {
    results.push({
      id: 'mysql.charset',
      group: 'mysql',
      status: 'warn',
      finding: `database ${db} uses ${String(v['cs'])}, not utf8mb4; DAG and task names outside ASCII may not store`,
    });
  }
  return results;
}

async function schemaCheck(conn: Connection): Promise<CheckResult> {
  let applied: string[] = [];
  try {
    applied = (await rows<RowDataPacket>(conn, `SELECT name FROM ${MIGRATION_TABLE}`)).map((r) =>
      String(r['name']),
    );
  } catch {
    applied = [];
  }
  const missing = MIGRATION_NAMES.filter((m) => !applied.includes(m));
  const unknown = applied.filter((m) => !MIGRATION_NAMES.includes(m));
  return missing.length > 0
    ? {
        id: 'mysql.schema',
        group: 'mysql',
        status: 'fail',
        finding: `schema is behind: ${missing.length} migration(s) not applied`,
        evidence: missing.join('\n'),
        fix: 'schema',
      }
    : unknown.length > 0
      ? {
          id: 'mysql.schema',
          group: 'mysql',
          status: 'warn',
          finding: `schema has migrations this toolkit does not know (${unknown.join(', ')}): the node runs a newer Updraft`,
        }
      : {
          id: 'mysql.schema',
          group: 'mysql',
          status: 'ok',
          finding: `schema at the newest migration (${MIGRATION_NAMES.at(-1) ?? 'none'})`,
        };
}

/** The stack database's DAG import errors, read from the table the DAG processor fills. */
export async function importErrorRows(conn: Connection): Promise<{ filename: string; stacktrace: string }[]> {
  return (
    await rows<RowDataPacket>(conn, 'SELECT filename, stacktrace FROM import_error ORDER BY filename')
  ).map((r) => ({ filename: String(r['filename']), stacktrace: String(r['stacktrace'] ?? '') }));
}

/**
 * The health checks' one database session as the stack's user, opened on first use: through the
 * server's Unix socket (over the SSH tunnel), so the account matched is user@localhost, as the
 * services use it. close() ends the session and the tunnel.
 */
export function databaseSession(ctx: Pick<HealthContext, 'host' | 'facts' | 'stack' | 'secrets'>): {
  get(): Promise<Connection>;
  close(): Promise<void>;
} {
  let opening: Promise<{ conn?: Connection; reach: Reach }> | undefined;
  const open = async () => {
    const reach = await ctx.host.reach({ socketPath: DATABASE_LAYOUT[ctx.facts.family].socket });
    try {
      const { user, name } = ctx.stack.database;
      return { conn: await connect(reach.endpoint, user, ctx.secrets.mysql_airflow_password, name), reach };
    } catch (e) {
      await reach.close();
      throw e;
    }
  };
  return {
    async get() {
      opening ??= open();
      const { conn } = await opening;
      return conn!;
    },
    async close() {
      const opened = await opening?.catch(() => undefined);
      await opened?.conn?.end().catch(() => {});
      await opened?.reach.close();
    },
  };
}

export const mysqlChecks: Check = async (ctx) => {
  const layout = DATABASE_LAYOUT[ctx.facts.family];
  // Sign in while systemctl answers: the two round trips overlap.
  const signInStarted = performance.now();
  const signedInAfter = () => Math.round(performance.now() - signInStarted);
  const signingIn = ctx.database().then(
    (conn) => ({ conn, ms: signedInAfter() }),
    (e: unknown) => ({ error: e, ms: signedInAfter() }),
  );
  const service = await timed(async () => {
    const unit = await unitState(ctx.host, layout.service);
    return unit.active !== 'active'
      ? {
          id: 'mysql.service',
          group: 'mysql',
          status: 'fail',
          finding: `${layout.service} is ${unit.active}`,
          evidence: await journal(ctx.host, layout.service),
          fix: 'database-service',
        }
      : {
          id: 'mysql.service',
          group: 'mysql',
          status: 'ok',
          finding: `${layout.service} active, ${unit.enabled} at boot`,
        };
  });
  if (service[0]!.status !== 'ok') return service;
  const { user, name: db } = ctx.stack.database;
  const session = await signingIn;
  if (!('conn' in session))
    return [
      ...service,
      {
        id: 'mysql.user',
        group: 'mysql',
        status: 'fail',
        finding: `${user}@localhost cannot sign in to ${db} with the stack's password`,
        evidence: ctx.mask(errorMessage(session.error)),
        fix: 'database-user',
        durationMs: session.ms,
      },
    ];
  const { conn } = session;
  const checks = await Promise.all([
    timed(() => grantsCheck(ctx, conn)),
    timed(() => settingsChecks(ctx, conn)),
    timed(() => schemaCheck(conn)),
  ]);
  return [
    ...service,
    {
      id: 'mysql.user',
      group: 'mysql',
      status: 'ok',
      finding: `${user}@localhost signs in to ${db}`,
      durationMs: session.ms,
    },
    ...checks.flat(),
  ];
};
