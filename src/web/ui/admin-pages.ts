import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { ConflictError, PermissionDeniedError, ValidationError } from '../../errors.js';
import * as users from '../../users/index.js';
import { effectiveRole, ROLES } from '../auth/roles.js';
import { recordAudit } from '../data/audit.js';
import { configSections } from '../data/config-view.js';
import * as res from '../data/resources.js';
import { listDagRuns, listTaskInstances } from '../data/runs.js';
import type { WebContext } from '../web-context.js';
import { fmtDuration, fmtTime, html, qs, type SafeHtml } from './html.js';
import { act, formField, page, queryParam } from './kit.js';
import { csrfField, stateBadge } from './layout.js';

const PAGE = 50;

/**
 * Which page a list request asks for. The offset comes from the page number alone, so each list is
 * fetched once (rows and total together); the navigation is drawn once the total is known.
 */
function pager(request: FastifyRequest): { offset: number; nav(total: number): SafeHtml } {
  const n = Math.max(1, Number(queryParam(request, 'page') ?? 1) || 1);
  const url = new URL(request.url, 'http://x');
  const to = (p: number) => {
    url.searchParams.set('page', String(p));
    return `${url.pathname}${url.search}`;
  };
  return {
    offset: (n - 1) * PAGE,
    nav(total) {
      const pages = Math.max(1, Math.ceil(total / PAGE));
      return html`<div class="pagination">
        ${n > 1 ? html`<a class="button" href="${to(n - 1)}">‹ Previous</a>` : ''}<span class="muted"
          >Page ${n} of ${pages} · ${total} rows</span
        >${n < pages ? html`<a class="button" href="${to(n + 1)}">Next ›</a>` : ''}
      </div>`;
    },
  };
}

/** One Browse page: a heading, a live-refreshed table, and the page navigation. */
function browseList(
  title: string,
  live: string,
  headers: string[],
  rows: SafeHtml[],
  nav: SafeHtml,
): { title: string; body: SafeHtml } {
  return {
    title,
    body: html`<h1>${title}</h1>
      <table class="list">
        <thead>
          <tr>
            ${headers.map((h) => html`<th>${h}</th>`)}
          </tr>
        </thead>
        <tbody data-live="${live}">
          ${rows}
        </tbody>
      </table>
      ${nav}`,
  };
}

const dagLink = (dagId: string, extra: Record<string, string | undefined> = {}) =>
  `/dags/${encodeURIComponent(dagId)}/grid${qs(extra)}`;

/** Browse (runs, task instances, jobs, audit log) and Admin (users, variables, connections, pools, config). */
export function registerBrowseAndAdmin(server: FastifyInstance, web: WebContext): void {
  const db = web.db;
  const fernet = web.app.fernet;
  const states = (r: FastifyRequest) => (queryParam(r, 'state') ? [queryParam(r, 'state')!] : undefined);

  page(server, web, '/dagrun/list', 'read', async (r) => {
    const { offset, nav } = pager(r);
    const { rows, total } = await listDagRuns(db, {
      dagId: queryParam(r, 'dag_id'),
      states: states(r),
      limit: PAGE,
      offset,
    });
    return browseList(
      'DAG Runs',
      'dagruns',
      ['State', 'DAG', 'Run id', 'Type', 'Logical date', 'Started', 'Ended'],
      rows.map(
        (x) =>
          html`<tr>
            <td>${stateBadge(x.state)}</td>
            <td><a href="${dagLink(x.dag_id)}">${x.dag_id}</a></td>
            <td><a href="${dagLink(x.dag_id, { run_id: x.run_id })}">${x.run_id}</a></td>
            <td>${x.run_type}</td>
            <td>${fmtTime(x.logical_date)}</td>
            <td>${fmtTime(x.start_date)}</td>
            <td>${fmtTime(x.end_date)}</td>
          </tr>`,
      ),
      nav(total),
    );
  });

  page(server, web, '/taskinstance/list', 'read', async (r) => {
    const { offset, nav } = pager(r);
    const { rows, total } = await listTaskInstances(db, {
      dagId: queryParam(r, 'dag_id'),
      states: states(r),
      limit: PAGE,
      offset,
    });
    return browseList(
      'Task Instances',
      'tis',
      ['State', 'DAG', 'Task', 'Run id', 'Try', 'Started', 'Duration', 'Host'],
      rows.map(
        (t) =>
          html`<tr>
            <td>${stateBadge(t.state)}</td>
            <td><a href="${dagLink(t.dag_id)}">${t.dag_id}</a></td>
            <td>
              <a
                href="${dagLink(t.dag_id, {
                  run_id: t.run_id,
                  task_id: t.task_id,
                  map_index: t.map_index >= 0 ? String(t.map_index) : undefined,
                })}"
                >${t.task_id}${t.map_index >= 0 ? ` [${t.map_index}]` : ''}</a
              >
            </td>
            <td>${t.run_id}</td>
            <td>${t.try_number}</td>
            <td>${fmtTime(t.start_date)}</td>
            <td>${fmtDuration(t.duration)}</td>
            <td>${t.hostname ?? ''}</td>
          </tr>`,
      ),
      nav(total),
    );
  });

  const countRows = async (table: 'job' | 'log') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select(sql<number>`count(*)`.as('n'))
          .executeTakeFirst()
      )?.n ?? 0,
    );
  /** Newest first: one page of rows, read alongside the table's row count. */
  const newestJobs = (offset: number) =>
    db.selectFrom('job').selectAll().orderBy('id', 'desc').limit(PAGE).offset(offset).execute();
  const newestLogs = (offset: number) =>
    db.selectFrom('log').selectAll().orderBy('id', 'desc').limit(PAGE).offset(offset).execute();

  page(server, web, '/job/list', 'read', async (r) => {
    const { offset, nav } = pager(r);
    const [rows, total] = await Promise.all([newestJobs(offset), countRows('job')]);
    return browseList(
      'Jobs',
      'jobs',
      ['Id', 'Type', 'State', 'Host', 'PID', 'Started', 'Latest heartbeat', 'Ended'],
      rows.map(
        (j) =>
          html`<tr>
            <td>${j.id}</td>
            <td>${j.job_type}</td>
            <td>${j.state}</td>
            <td>${j.hostname}</td>
            <td>${j.pid ?? ''}</td>
            <td>${fmtTime(j.start_date)}</td>
            <td>${fmtTime(j.latest_heartbeat)}</td>
            <td>${fmtTime(j.end_date)}</td>
          </tr>`,
      ),
      nav(total),
    );
  });

  page(server, web, '/log/list', 'read', async (r) => {
    const { offset, nav } = pager(r);
    const [rows, total] = await Promise.all([newestLogs(offset), countRows('log')]);
    return browseList(
      'Audit Log',
      'audit',
      ['When', 'Event', 'Owner', 'DAG', 'Run', 'Task', 'Extra'],
      rows.map(
        (l) =>
          html`<tr>
            <td>${fmtTime(l.dttm)}</td>
            <td>${l.event}</td>
            <td>${l.owner ?? ''}</td>
            <td>${l.dag_id ?? ''}</td>
            <td>${l.run_id ?? ''}</td>
            <td>${l.task_id ?? ''}</td>
            <td><code>${(l.extra ?? '').slice(0, 200)}</code></td>
          </tr>`,
      ),
      nav(total),
    );
  });

  // ---- Variables
  page(server, web, '/variable/list', 'manage_resources', async (r) => {
    const { rows } = await res.listVariables(web.store, fernet, 500, 0);
    return {
      title: 'Variables',
      body: html`<h1>Variables</h1>
        <table class="list">
          <thead>
            <tr>
              <th>Key</th>
              <th>Value</th>
              <th>Description</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${rows.map(
              (v) =>
                html`<tr>
                  <td>${v.key}</td>
                  <td><code>${v.value}</code></td>
                  <td>${v.description ?? ''}</td>
                  <td>
                    <form
                      class="inline"
                      method="post"
                      action="/variable/delete"
                      data-confirm="Delete variable ${v.key}?"
                    >
                      ${csrfField(r)}<input type="hidden" name="key" value="${v.key}" /><button
                        class="danger"
                      >
                        Delete
                      </button>
                    </form>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
        <form class="panel toolbar" method="post" action="/variable/add">
          ${csrfField(r)}<b>Add or replace</b
          ><input type="text" name="key" placeholder="key" required /><input
            type="text"
            name="value"
            placeholder="value"
          /><input type="text" name="description" placeholder="description" /><button class="primary">
            Save
          </button>
        </form>`,
    };
  });
  act(server, '/variable/add', 'manage_resources', async (r) => {
    const key = (formField(r, 'key') ?? '').trim();
    await res.setVariable(
      web.store,
      fernet,
      key,
      formField(r, 'value') ?? '',
      formField(r, 'description') || null,
    );
    await recordAudit(db, { event: 'variable.create', owner: r.principal!.username, extra: { key } });
    return { redirect: '/variable/list', flash: `Saved variable ${key}.` };
  });
  act(server, '/variable/delete', 'manage_resources', async (r) => {
    const key = formField(r, 'key') ?? '';
    await res.deleteVariable(web.store, key);
    await recordAudit(db, { event: 'variable.delete', owner: r.principal!.username, extra: { key } });
    return { redirect: '/variable/list', flash: `Deleted variable ${key}.` };
  });

  // ---- Connections
  page(server, web, '/connection/list', 'manage_resources', async (r) => {
    const { rows } = await res.listConnections(web.store, fernet, 500, 0);
    return {
      title: 'Connections',
      body: html`<h1>Connections</h1>
        <table class="list">
          <thead>
            <tr>
              <th>Conn id</th>
              <th>Type</th>
              <th>Host</th>
              <th>Port</th>
              <th>Login</th>
              <th>Password</th>
              <th>Schema</th>
              <th>Extra</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${rows.map(
              (c) =>
                html`<tr>
                  <td>${c.connection_id}</td>
                  <td>${c.conn_type}</td>
                  <td>${c.host ?? ''}</td>
                  <td>${c.port ?? ''}</td>
                  <td>${c.login ?? ''}</td>
                  <td>${c.password ?? ''}</td>
                  <td>${c.schema ?? ''}</td>
                  <td><code>${c.extra ?? ''}</code></td>
                  <td>
                    <form
                      class="inline"
                      method="post"
                      action="/connection/delete"
                      data-confirm="Delete connection ${c.connection_id}?"
                    >
                      ${csrfField(r)}<input
                        type="hidden"
                        name="connection_id"
                        value="${c.connection_id}"
                      /><button class="danger">Delete</button>
                    </form>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
        <form class="panel toolbar" method="post" action="/connection/add">
          ${csrfField(r)}<b>Add</b
          ><input type="text" name="connection_id" placeholder="conn id" required /><input
            type="text"
            name="conn_type"
            placeholder="type (postgres, http…)"
            required
          /><input type="text" name="host" placeholder="host" /><input
            type="number"
            name="port"
            placeholder="port"
          /><input type="text" name="login" placeholder="login" /><input
            type="password"
            name="password"
            placeholder="password"
          /><input type="text" name="schema" placeholder="schema" /><input
            type="text"
            name="extra"
            placeholder="extra JSON"
          /><button class="primary">Save</button>
        </form>`,
    };
  });
  act(server, '/connection/add', 'manage_resources', async (r) => {
    const port = formField(r, 'port');
    if (port && !/^\d+$/.test(port)) throw new ValidationError('port must be a number.');
    const id = (formField(r, 'connection_id') ?? '').trim();
    await res.createConnection(web.store, fernet, {
      connection_id: id,
      conn_type: (formField(r, 'conn_type') ?? '').trim(),
      host: formField(r, 'host') || null,
      port: port ? Number(port) : null,
      login: formField(r, 'login') || null,
      password: formField(r, 'password') || null,
      schema: formField(r, 'schema') || null,
      extra: formField(r, 'extra') || null,
    });
    await recordAudit(db, {
      event: 'connection.create',
      owner: r.principal!.username,
      extra: { connection_id: id },
    });
    return { redirect: '/connection/list', flash: `Saved connection ${id}.` };
  });
  act(server, '/connection/delete', 'manage_resources', async (r) => {
    const id = formField(r, 'connection_id') ?? '';
    await res.deleteConnection(web.store, id);
    await recordAudit(db, {
      event: 'connection.delete',
      owner: r.principal!.username,
      extra: { connection_id: id },
    });
    return { redirect: '/connection/list', flash: `Deleted connection ${id}.` };
  });

  // ---- Pools
  page(server, web, '/pool/list', 'manage_resources', async (r) => {
    const { rows } = await res.listPools(web.store, 500, 0);
    return {
      title: 'Pools',
      body: html`<h1>Pools</h1>
        <table class="list">
          <thead>
            <tr>
              <th>Pool</th>
              <th>Slots</th>
              <th>Running</th>
              <th>Queued</th>
              <th>Open</th>
              <th>Description</th>
              <th></th>
            </tr>
          </thead>
          <tbody data-live="pools">
            ${rows.map(
              (p) =>
                html`<tr>
                  <td>${p.name}</td>
                  <td>${p.slots}</td>
                  <td>${p.running_slots}</td>
                  <td>${p.queued_slots}</td>
                  <td>${Number.isFinite(p.open_slots) ? p.open_slots : '∞'}</td>
                  <td>${p.description ?? ''}</td>
                  <td>
                    ${p.name === 'default_pool' ? '' : html`<form class="inline" method="post" action="/pool/delete" data-confirm="Delete pool ${p.name}?">${csrfField(r)}<input type="hidden" name="name" value="${p.name}" /><button class="danger">Delete</button></form>`}
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
        <form class="panel toolbar" method="post" action="/pool/add">
          ${csrfField(r)}<b>Add or resize</b
          ><input type="text" name="name" placeholder="pool" required /><input
            type="number"
            name="slots"
            placeholder="slots"
            required
          /><input type="text" name="description" placeholder="description" /><button class="primary">
            Save
          </button>
        </form>`,
    };
  });
  act(server, '/pool/add', 'manage_resources', async (r) => {
    const name = (formField(r, 'name') ?? '').trim();
    const slots = Number(formField(r, 'slots'));
    await res.upsertPool(web.store, name, slots, formField(r, 'description') || null);
    await recordAudit(db, {
      event: 'pool.create',
      owner: r.principal!.username,
      extra: { pool: name, slots },
    });
    return { redirect: '/pool/list', flash: `Saved pool ${name}.` };
  });
  act(server, '/pool/delete', 'manage_resources', async (r) => {
    const name = formField(r, 'name') ?? '';
    await res.deletePool(web.store, name);
    await recordAudit(db, { event: 'pool.delete', owner: r.principal!.username, extra: { pool: name } });
    return { redirect: '/pool/list', flash: `Deleted pool ${name}.` };
  });

  // ---- Users and roles (through the users service, like `updraft users …`)
  page(server, web, '/users/list', 'manage_users', async (r) => {
    const list = await users.listUsers(web.store);
    const roleSelect = (name: string, current?: string) =>
      html`<select name="${name}">
        ${ROLES.map((role) => html`<option ${role === current ? 'selected' : ''}>${role}</option>`)}
      </select>`;
    return {
      title: 'Users',
      body: html`<h1>Users</h1>
        <table class="list">
          <thead>
            <tr>
              <th>Username</th>
              <th>Name</th>
              <th>Email</th>
              <th>Roles</th>
              <th>Active</th>
              <th>Last login</th>
              <th>Logins</th>
              <th>Failed</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            ${list.map(
              (u) =>
                html`<tr>
                  <td>${u.username}</td>
                  <td>${u.firstName} ${u.lastName}</td>
                  <td>${u.email}</td>
                  <td>
                    <form class="inline" method="post" action="/users/role">
                      ${csrfField(r)}<input
                        type="hidden"
                        name="id"
                        value="${u.id}"
                      />${roleSelect('role', effectiveRole(u.roles))}<button>Set role</button>
                    </form>
                    ${
                      u.roles.length > 1
                        ? html`<span class="muted"
                            >also
                            ${u.roles.filter((role) => role !== effectiveRole(u.roles)).join(', ')}</span
                          >`
                        : ''
                    }
                  </td>
                  <td>${u.active ? 'yes' : 'no'}</td>
                  <td>${fmtTime(u.lastLogin)}</td>
                  <td>${u.loginCount}</td>
                  <td>${u.failLoginCount}</td>
                  <td>
                    <form
                      class="inline"
                      method="post"
                      action="/users/delete"
                      data-confirm="Delete user ${u.username}?"
                    >
                      ${csrfField(r)}<input type="hidden" name="id" value="${u.id}" /><button class="danger">
                        Delete
                      </button>
                    </form>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
        <form class="panel toolbar" method="post" action="/users/add">
          ${csrfField(r)}<b>Add user</b
          ><input type="text" name="username" placeholder="username" required /><input
            type="text"
            name="first_name"
            placeholder="first name"
            required
          /><input type="text" name="last_name" placeholder="last name" required /><input
            type="text"
            name="email"
            placeholder="email"
            required
          /><input
            type="password"
            name="password"
            placeholder="password"
            required
          />${roleSelect('role', 'Viewer')}<button class="primary">Create</button>
        </form>
        <h2>Roles</h2>
        <dl class="details">
          <dt>Viewer</dt>
          <dd>Reads DAGs, runs, logs and browse pages.</dd>
          <dt>User</dt>
          <dd>Viewer + trigger, clear, pause, mark, delete DAGs.</dd>
          <dt>Op</dt>
          <dd>User + variables, connections, pools.</dd>
          <dt>Admin</dt>
          <dd>Op + users, roles and configuration.</dd>
          <dt>Public</dt>
          <dd>No access until an admin grants a role.</dd>
        </dl>`,
    };
  });
  act(server, '/users/add', 'manage_users', async (r) => {
    const user = await users.createUser(web.store, {
      username: (formField(r, 'username') ?? '').trim(),
      firstName: formField(r, 'first_name') ?? '',
      lastName: formField(r, 'last_name') ?? '',
      email: formField(r, 'email') ?? '',
      password: formField(r, 'password') ?? '',
      roles: [formField(r, 'role') ?? ''],
    });
    await recordAudit(db, {
      event: 'user.create',
      owner: r.principal!.username,
      extra: { username: user.username, roles: user.roles },
    });
    return { redirect: '/users/list', flash: `Created user ${user.username}.` };
  });
  act(server, '/users/role', 'manage_users', async (r) => {
    const id = Number(formField(r, 'id'));
    const role = formField(r, 'role') ?? '';
    if (!users.isRoleName(role)) throw new ValidationError(`Unknown role "${role}".`);
    if (id === r.principal!.userId && role !== 'Admin')
      throw new PermissionDeniedError('You cannot remove your own Admin role.');
    const user = await users.getUserWithRoles(web.store, { id });
    if (!user.roles.includes(role)) await users.addRole(web.store, { id }, role);
    for (const old of user.roles) if (old !== role) await users.removeRole(web.store, { id }, old);
    await recordAudit(db, {
      event: 'user.role',
      owner: r.principal!.username,
      extra: { username: user.username, role },
    });
    return { redirect: '/users/list', flash: `${user.username} is now ${role}.` };
  });
  act(server, '/users/delete', 'manage_users', async (r) => {
    const id = Number(formField(r, 'id'));
    if (id === r.principal!.userId) throw new ConflictError('You cannot delete yourself.');
    const user = await users.deleteUser(web.store, { id });
    await recordAudit(db, {
      event: 'user.delete',
      owner: r.principal!.username,
      extra: { username: user.username },
    });
    return { redirect: '/users/list', flash: `Deleted user ${user.username}.` };
  });

  page(server, web, '/configuration', 'read_config', async () => {
    if (!web.app.config.values.webserver.expose_config) {
      throw new PermissionDeniedError(
        'Your Updraft administrator chose not to expose the configuration ([webserver] expose_config = False).',
      );
    }
    return {
      title: 'Configuration',
      body: html`<h1>Configuration</h1>
        <p class="muted">${web.app.config.file}</p>
        ${configSections(web.app).map(
          (s) =>
            html`<h2>[${s.name}]</h2>
              <table class="list">
                <thead>
                  <tr>
                    <th style="width:30%">Key</th>
                    <th>Value</th>
                    <th style="width:10%">Source</th>
                  </tr>
                </thead>
                <tbody>
                  ${s.options.map(
                    (o) =>
                      html`<tr>
                        <td>${o.key}</td>
                        <td><code>${o.value}</code></td>
                        <td>${o.source}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`,
        )}`,
    };
  });
}
