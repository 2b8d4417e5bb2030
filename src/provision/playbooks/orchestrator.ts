import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { command, custom, directory, file, type Resource } from '../engine/resources.js';
import { renderTemplate } from '../engine/templates.js';
import { sq } from '../remote/shell.js';
import { DATABASE_LAYOUT } from './mysql.js';
import { CLI_WRAPPER, COMPONENTS, CURRENT, ENV_FILE, NODE_BIN, RELEASES } from './layout.js';
import type { PlanInput, Playbook } from './types.js';

const ALL_UNITS = Object.values(COMPONENTS).map((c) => c.unit);
const DAG_FILE = /\.(ts|mts|js|mjs)$/;

/** Run the orchestrator's CLI on the host as the service user. */
export function asServiceUser(user: string, args: string): string {
  return `runuser -u ${sq(user)} -- ${CLI_WRAPPER} ${args}`;
}

/** Unpack a release next to the others, then switch /opt/updraft/current to it in one rename. */
export function installReleaseScript(staged: string, id: string): string {
  const dir = `${RELEASES}/${id}`;
  return [
    `mkdir -p /var/lib/updraft/pending-restart && touch ${ALL_UNITS.map((u) => `/var/lib/updraft/pending-restart/${u}`).join(' ')}`,
    `mkdir -p ${RELEASES} && rm -rf ${dir}.tmp && mkdir ${dir}.tmp`,
    // Extracted as root without the archive's owners: root-owned files the service user can only read.
    `tar --no-same-owner -xzf ${sq(staged)} -C ${dir}.tmp`,
    `rm -rf ${dir} && mv ${dir}.tmp ${dir}`,
    `ln -sfn ${dir} ${CURRENT}.new && mv -T ${CURRENT}.new ${CURRENT}`,
    `rm -f ${sq(staged)}`,
    // Keep the current release and the one before it.
    `ls -1t ${RELEASES} | tail -n +3 | while read -r old; do [ "${RELEASES}/$old" = "${dir}" ] || rm -rf "${RELEASES}/$old"; done`,
  ].join(' && ');
}

/** The orchestrator: service user, AIRFLOW_HOME, the release, its CLI, the DAGs. */
export const orchestratorPlaybook: Playbook = ({ stack }) => {
  const { user, home } = stack.airflow;
  const resources: Resource[] = [
    command({
      id: `system user ${user}`,
      summary: `create system user ${user} (home ${home}, no login shell)`,
      unless: `id -u ${sq(user)}`,
      run: `useradd --system --user-group --no-create-home --home-dir ${sq(home)} --shell "$(command -v nologin || echo /sbin/nologin)" ${sq(user)}`,
    }),
    directory({ path: home, mode: 0o750, owner: user, group: user }),
    directory({ path: `${home}/dags`, mode: 0o755, owner: user, group: user }),
    directory({ path: `${home}/logs`, mode: 0o750, owner: user, group: user }),
    custom(
      'release',
      async (ctx) => {
        const { id } = await ctx.artifacts.orchestrator();
        const r = await ctx.host.exec(`readlink ${CURRENT}`, { allowFailure: true, quiet: true });
        const current = r.stdout.trim();
        if (current === `${RELEASES}/${id}`) return null;
        return {
          resource: CURRENT,
          summary: `install release ${id}${current ? ` (replaces ${current.split('/').pop()})` : ''}`,
        };
      },
      async (ctx) => {
        const { file: local, id } = await ctx.artifacts.orchestrator();
        const staged = `${await ctx.host.stagingDir()}/updraft-${id}.tgz`;
        await ctx.host.upload(local, staged);
        await ctx.host.exec(installReleaseScript(staged, id));
      },
    ),
    file({
      path: CLI_WRAPPER,
      content: renderTemplate('updraft-cli.sh', { node_bin: NODE_BIN, release_dir: CURRENT }),
      mode: 0o755,
      owner: 'root',
      group: 'root',
    }),
  ];
  if (stack.airflow.dags) {
    for (const name of readdirSync(stack.airflow.dags)
      .filter((n) => DAG_FILE.test(n))
      .sort()) {
      resources.push(
        file({
          path: `${home}/dags/${name}`,
          content: readFileSync(join(stack.airflow.dags, name), 'utf8'),
          mode: 0o644,
          owner: user,
          group: user,
        }),
      );
    }
  }
  return [{ id: 'orchestrator', title: `Updraft under ${home} as ${user}`, resources }];
};

/** The node's airflow.cfg as the stack and its secrets make it (health compares the host's copy with it). */
export function renderAirflowCfg({ facts, stack, secrets }: PlanInput): string {
  const { home } = stack.airflow;
  const dbLayout = DATABASE_LAYOUT[facts.family];
  const baseUrl =
    stack.airflow.base_url ?? `http://${stack.host.address ?? 'localhost'}:${stack.airflow.web_port}`;
  return renderTemplate('airflow.cfg', {
    stack: stack.name,
    dags_folder: `${home}/dags`,
    executor: stack.airflow.executor,
    load_examples: stack.airflow.load_examples ? 'True' : 'False',
    fernet_key: secrets.fernet_key,
    db_user: stack.database.user,
    db_password: secrets.mysql_airflow_password,
    db_name: stack.database.name,
    db_socket: dbLayout.socket,
    log_folder: `${home}/logs`,
    base_url: baseUrl,
    web_port: stack.airflow.web_port,
    secret_key: secrets.secret_key,
    redis_password: secrets.redis_password,
    redis_port: stack.redis.port,
  });
}

/** airflow.cfg, the services' environment, the schema and the admin user. */
export const airflowConfigPlaybook: Playbook = ({ facts, stack, secrets }) => {
  const { user, home, admin } = stack.airflow;
  const cfg = renderAirflowCfg({ facts, stack, secrets });
  const resources: Resource[] = [
    file({
      path: ENV_FILE,
      content: renderTemplate('updraft.env', { airflow_home: home, node_bin: NODE_BIN }),
      mode: 0o644,
      owner: 'root',
      group: 'root',
      notify: ALL_UNITS,
    }),
    file({
      path: `${home}/airflow.cfg`,
      content: cfg,
      mode: 0o600,
      owner: user,
      group: user,
      notify: ALL_UNITS,
    }),
    command({
      id: 'db migrate',
      summary: 'apply the metadata database migrations (updraft db migrate)',
      unless: asServiceUser(user, 'db check-migrations -t 0'),
      run: asServiceUser(user, 'db migrate'),
    }),
    command({
      id: `admin user ${admin.username}`,
      summary: `create the Admin user ${admin.username}`,
      unless: `${asServiceUser(user, 'users list -o json')} | grep -qE ${sq(`"username": ?"${admin.username}"`)}`,
      run: asServiceUser(
        user,
        `users create -r Admin -u ${sq(admin.username)} -e ${sq(admin.email)} -f ${sq(admin.firstname)} -l ${sq(admin.lastname)}`,
      ),
      input: `${secrets.admin_password}\n${secrets.admin_password}\n`,
    }),
  ];
  return [{ id: 'config', title: 'airflow.cfg, schema and admin user', resources }];
};
