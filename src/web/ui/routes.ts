import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFoundError, ValidationError } from '../../errors.js';
import { checkCsrf, endSession, startSession } from '../auth/guard.js';
import { checkSignIn } from '../auth/sign-in.js';
import { AuthenticationError, TooManyRequestsError } from '../../errors.js';
import { uiGuard } from '../auth/guard.js';
import { problemFor } from '../http-errors.js';
import { recordAudit } from '../data/audit.js';
import { getSerializedDag } from '../data/dags.js';
import { readTryLog } from '../data/logs.js';
import * as ops from '../data/operations.js';
import { getTaskInstance } from '../data/runs.js';
import type { WebContext } from '../web-context.js';
import { APP_CSS, APP_JS, FAVICON_SVG } from './assets.js';
import { registerBrowseAndAdmin } from './admin-pages.js';
import { dagListPage } from './dag-list-page.js';
import { dagPage, type DagTab } from './dag-page.js';
import { html, qs } from './html.js';
import { act, formField, isChecked, page, queryParam, redirectAfterAction, safeRedirect } from './kit.js';
import { readTriggerForm, type TriggerFormState } from './trigger-form.js';
import { renderPage } from './layout.js';

/** Every UI route: sign-in, DAG pages, their actions, the log feed, browse and admin pages. */
export function registerUi(server: FastifyInstance, web: WebContext): void {
  server.get('/static/app.css', async (_r, reply) =>
    reply.type('text/css; charset=utf-8').header('Cache-Control', 'public, max-age=300').send(APP_CSS),
  );
  server.get('/static/app.js', async (_r, reply) =>
    reply.type('text/javascript; charset=utf-8').header('Cache-Control', 'public, max-age=300').send(APP_JS),
  );
  server.get('/static/favicon.svg', async (_r, reply) =>
    reply.type('image/svg+xml').header('Cache-Control', 'public, max-age=86400').send(FAVICON_SVG),
  );
  server.get('/favicon.ico', async (_r, reply) => reply.redirect('/static/favicon.svg', 301));
  server.get('/', async (_r, reply) => reply.redirect('/home'));
  registerSignIn(server, web);

  page(server, web, '/home', 'read', (r) => dagListPage(web, r));
  for (const tab of ['grid', 'graph', 'details', 'code', 'runs'] as DagTab[]) {
    page(server, web, `/dags/:dag_id/${tab}`, 'read', (r) => dagPage(web, r, tab));
  }
  page(server, web, '/dags/:dag_id', 'read', (r) => dagPage(web, r, 'grid'));
  page(server, web, '/dags/:dag_id/trigger', 'operate_dags', (r) => dagPage(web, r, 'trigger'));
  registerDagActions(server, web);

  // The log viewer's feed: bytes appended since `token`, and whether the try has finished.
  server.get('/ui/log', { preHandler: uiGuard('read') }, async (request) => {
    const q = request.query as Record<string, string>;
    const mapIndex = Number(q.map_index ?? -1);
    const tryNumber = Number(q.try_number ?? 1);
    if (!q.dag_id || !q.run_id || !q.task_id || !Number.isInteger(tryNumber) || tryNumber < 1)
      throw new ValidationError('dag_id, run_id, task_id and try_number are required.');
    const ti = await getTaskInstance(web.db, q.dag_id, q.run_id, q.task_id, mapIndex);
    const chunk = await readTryLog(
      web.app.config.values,
      web.db,
      { dagId: q.dag_id, runId: q.run_id, taskId: q.task_id, mapIndex, tryNumber },
      Number(q.token ?? 0) || 0,
      ti.hostname,
    );
    const live =
      tryNumber === ti.try_number &&
      ['running', 'queued', 'scheduled', 'restarting', 'deferred', 'up_for_reschedule'].includes(
        ti.state ?? '',
      );
    const content = (await web.secrets.masker()).redact(chunk.content);
    return { content, continuation_token: String(chunk.nextOffset), finished: !live };
  });

  registerBrowseAndAdmin(server, web);
}

function registerSignIn(server: FastifyInstance, web: WebContext): void {
  const form = (request: FastifyRequest, error?: string) =>
    renderPage(web, request, {
      title: 'Sign in',
      bare: true,
      body: html`<form class="login" method="post" action="/login">
        <h1>Sign in to ${web.app.config.values.webserver.instance_name}</h1>
        ${error ? html`<div class="banner error" role="alert">${error}</div>` : ''}
        <input type="hidden" name="csrf_token" value="${request.session.csrf}" />
        <input
          type="hidden"
          name="next"
          value="${safeRedirect(queryParam(request, 'next') ?? formField(request, 'next'))}"
        />
        <label for="username">Username</label
        ><input id="username" name="username" type="text" autocomplete="username" required autofocus />
        <label for="password">Password</label
        ><input id="password" name="password" type="password" autocomplete="current-password" required />
        <p><button class="primary" type="submit" style="width:100%">Sign in</button></p>
      </form>`,
    });

  server.get('/login', async (request, reply) => {
    if (request.principal) return reply.redirect(safeRedirect(queryParam(request, 'next')));
    return reply.type('text/html; charset=utf-8').send(await form(request));
  });

  server.post('/login', async (request, reply) => {
    checkCsrf(request);
    const username = formField(request, 'username') ?? '';
    let principal;
    try {
      principal = await checkSignIn(web.guard, username, formField(request, 'password') ?? '', request.ip);
    } catch (error) {
      if (!(error instanceof AuthenticationError || error instanceof TooManyRequestsError)) throw error;
      return reply
        .status(error instanceof TooManyRequestsError ? 429 : 401)
        .type('text/html; charset=utf-8')
        .send(await form(request, error.message));
    }
    // A fresh session (new CSRF token) on sign-in, so a token seen before cannot be reused.
    await startSession(reply, web.guard, principal.userId);
    await recordAudit(web.db, { event: 'login', owner: principal.username, extra: { ip: request.ip } });
    return reply.redirect(safeRedirect(formField(request, 'next')), 303);
  });

  server.post('/logout', async (request, reply) => {
    checkCsrf(request);
    if (request.principal) await recordAudit(web.db, { event: 'logout', owner: request.principal.username });
    await endSession(request, reply, web.guard);
    return reply.redirect('/login', 303);
  });
}

function registerDagActions(server: FastifyInstance, web: WebContext): void {
  const db = web.db;
  const dagIdOf = (r: FastifyRequest) => (r.params as { dag_id: string }).dag_id;
  const grid = (dagId: string, extra: Record<string, string | undefined> = {}) =>
    `/dags/${encodeURIComponent(dagId)}/grid${qs(extra)}`;
  const owner = (r: FastifyRequest) => r.principal!.username;

  act(server, '/dags/:dag_id/pause', 'operate_dags', async (r) => {
    const dagId = dagIdOf(r);
    const paused = formField(r, 'is_paused') === 'true';
    await ops.setPaused(web.app, dagId, paused);
    await recordAudit(db, { event: paused ? 'paused' : 'unpaused', owner: owner(r), dagId });
    return { redirect: formField(r, 'next') ?? grid(dagId) };
  });

  // Not `act`: a form with a bad value is shown again (400) with the message beside the field.
  server.post('/dags/:dag_id/trigger', { preHandler: uiGuard('operate_dags') }, async (r, reply) => {
    const dagId = dagIdOf(r);
    const dag = await getSerializedDag(db, dagId);
    const read = readTriggerForm(dag, (r.body ?? {}) as Record<string, unknown>);
    let state: TriggerFormState;
    if ('state' in read) state = read.state;
    else {
      try {
        const run = await ops.triggerDagRun(web.app, dagId, { conf: read.conf, runId: read.runId });
        await recordAudit(db, {
          event: 'trigger',
          owner: owner(r),
          dagId,
          runId: run.run_id,
          extra: run.conf,
        });
        const notice = await ops.pausedRunNotice(web.app, dagId);
        return redirectAfterAction(reply, {
          redirect: grid(dagId, { run_id: run.run_id }),
          flash: `Triggered ${dagId}, run ${run.run_id}.${notice ? ` ${notice}` : ''}`,
        });
      } catch (error) {
        const status = problemFor(error).status;
        if (status !== 400 && status !== 409) throw error;
        state = { values: read.values, errors: { _form: problemFor(error).detail } };
      }
    }
    const result = await dagPage(web, r, 'trigger', state);
    return reply
      .status(400)
      .type('text/html; charset=utf-8')
      .header('Cache-Control', 'no-store')
      .send(await renderPage(web, r, result));
  });

  act(server, '/dags/:dag_id/delete', 'operate_dags', async (r) => {
    const dagId = dagIdOf(r);
    await ops.deleteDag(web.app, dagId);
    await recordAudit(db, { event: 'delete_dag', owner: owner(r), dagId });
    return { redirect: '/home', flash: `Deleted DAG ${dagId}.` };
  });

  act(server, '/dags/:dag_id/clear', 'operate_dags', async (r) => {
    const dagId = dagIdOf(r);
    const runId = formField(r, 'run_id');
    const taskId = formField(r, 'task_id');
    if (!runId) throw new ValidationError('run_id is required.');
    const cleared = await ops.clearTaskInstances(web.app, {
      dagId,
      runId,
      taskIds: taskId ? [taskId] : undefined,
      upstream: isChecked(r, 'upstream'),
      downstream: isChecked(r, 'downstream'),
      past: isChecked(r, 'past'),
      future: isChecked(r, 'future'),
      onlyFailed: isChecked(r, 'only_failed'),
    });
    await recordAudit(db, {
      event: 'clear',
      owner: owner(r),
      dagId,
      runId,
      taskId: taskId ?? null,
      extra: { count: cleared.length },
    });
    return {
      redirect: grid(dagId, { run_id: runId, task_id: taskId }),
      flash: `Cleared ${cleared.length} task instance(s).`,
    };
  });

  act(server, '/dags/:dag_id/mark', 'operate_dags', async (r) => {
    const dagId = dagIdOf(r);
    const runId = formField(r, 'run_id');
    const taskId = formField(r, 'task_id');
    const state = formField(r, 'state');
    if (!runId || !taskId || (state !== 'success' && state !== 'failed'))
      throw new ValidationError('run_id, task_id and state (success|failed) are required.');
    const changed = await ops.setTaskInstanceState(web.app, {
      dagId,
      runId,
      taskId,
      state,
      upstream: isChecked(r, 'upstream'),
      downstream: isChecked(r, 'downstream'),
    });
    await recordAudit(db, { event: `mark_${state}`, owner: owner(r), dagId, runId, taskId });
    return {
      redirect: grid(dagId, { run_id: runId, task_id: taskId }),
      flash: `Marked ${changed.length} task instance(s) ${state}.`,
    };
  });

  act(server, '/dags/:dag_id/runs/state', 'operate_dags', async (r) => {
    const dagId = dagIdOf(r);
    const runId = formField(r, 'run_id');
    const state = formField(r, 'state');
    if (!runId || (state !== 'success' && state !== 'failed' && state !== 'queued'))
      throw new NotFoundError('Unknown run or state.');
    await ops.setDagRunState(web.app, dagId, runId, state);
    await recordAudit(db, { event: `dagrun_${state}`, owner: owner(r), dagId, runId });
    return { redirect: grid(dagId, { run_id: runId }), flash: `Run ${runId} marked ${state}.` };
  });
}
