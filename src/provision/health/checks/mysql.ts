import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { errorMessage } from '../../../errors.js';
import { MIGRATION_NAMES, MIGRATION_TABLE } from '../../../db/migrate.js';
import { DATABASE_LAYOUT } from '../../playbooks/mysql.js';
import type { Endpoint } from '../../remote/types.js';
import type { Check, CheckResult, HealthContext } from '../types.js';
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

async function sessionChecks(ctx: HealthContext, conn: Connection): Promise<CheckResult[]> {
  const { name: db } = ctx.stack.database;
  const results: CheckResult[] = [];
  const grants = (await rows<RowDataPacket>(conn, 'SHOW GRANTS FOR CURRENT_USER()')).map((r) =>
    String(Object.values(r)[0]),
  );
  const extra = extraGrants(grants, db);
  results.push(
    extra.length > 0
      ? {
          id: 'mysql.grants',
          group: 'mysql',
          status: 'fail',
          finding: `the ${ctx.stack.database.user} user has privileges beyond ${db}.*`,
          evidence: extra.join('\n'),
          fix: 'database-grants',
        }
      : { id: 'mysql.grants', group: 'mysql', status: 'ok', finding: `privileges limited to ${db}.*` },
  );
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
  results.push(
    missing.length > 0
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
          },
  );
  return results;
}

export const mysqlChecks: Check = async (ctx) => {
  const layout = DATABASE_LAYOUT[ctx.facts.family];
  const results: CheckResult[] = [];
  const unit = await unitState(ctx.host, layout.service);
  if (unit.active !== 'active') {
    results.push({
      id: 'mysql.service',
      group: 'mysql',
      status: 'fail',
      finding: `${layout.service} is ${unit.active}`,
      evidence: await journal(ctx.host, layout.service),
      fix: 'database-service',
    });
    return results;
  }
  results.push({
    id: 'mysql.service',
    group: 'mysql',
    status: 'ok',
    finding: `${layout.service} active, ${unit.enabled} at boot`,
  });
  const { user, name: db } = ctx.stack.database;
  // Through the server's Unix socket, so the account matched is user@localhost, as the services use it.
  const reach = await ctx.host.reach({ socketPath: layout.socket });
  try {
    let conn: Connection;
    try {
      conn = await connect(reach.endpoint, user, ctx.secrets.mysql_airflow_password, db);
    } catch (e) {
      results.push({
        id: 'mysql.user',
        group: 'mysql',
        status: 'fail',
        finding: `${user}@localhost cannot sign in to ${db} with the stack's password`,
        evidence: ctx.mask(errorMessage(e)),
        fix: 'database-user',
      });
      return results;
    }
    try {
      results.push({
        id: 'mysql.user',
        group: 'mysql',
        status: 'ok',
        finding: `${user}@localhost signs in to ${db}`,
      });
      results.push(...(await sessionChecks(ctx, conn)));
    } finally {
      await conn.end().catch(() => {});
    }
  } finally {
    await reach.close();
  }
  return results;
};
