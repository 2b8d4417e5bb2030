import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { containsText } from '../data/like.js';
import { NotFoundError, PermissionDeniedError, ValidationError } from '../../errors.js';
import * as users from '../../users/index.js';
import { apiGuard } from '../auth/guard.js';
import type { Action } from '../auth/roles.js';
import { recordAudit } from '../data/audit.js';
import { getDag, getSerializedDag, listImportErrors, tagsOf } from '../data/dags.js';
import { healthReport } from '../data/health.js';
import { JOB_STATES, listJobs } from '../data/jobs.js';
import { readTryLog } from '../data/logs.js';
import * as ops from '../data/operations.js';
import * as res from '../data/resources.js';
import { sortRows } from '../data/order.js';
import {
  getDagRun,
  getTaskInstance,
  listDagRuns,
  listTaskInstances,
  listXcoms,
  type RunRange,
} from '../data/runs.js';
import { UPDRAFT_VERSION, healthThresholds, type WebContext } from '../web-context.js';
import { configSections } from '../data/config-view.js';
import {
  dagJson,
  dagRunJson,
  eventLogJson,
  importErrorJson,
  jobJson,
  taskInstanceJson,
  taskJson,
  userJson,
  xcomJson,
} from './serialize.js';
import { refuseUnknownFields } from './body.js';
import { optionalInstant, orderOf, paging, pathInt } from './paging.js';
import { MAX_QUERY_INT, PAGING, parseQuery, type ParsedQuery, type QuerySpec } from './query.js';

/** One REST endpoint: the route, the permission it needs, and what the OpenAPI document says. */
export interface Endpoint {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  action: Action | 'none';
  summary: string;
  tag: string;
  body?: Record<string, unknown>;
  /** Every query parameter the endpoint knows; any other is a 400. None when absent. */
  query?: QuerySpec;
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

type Params = Record<string, string>;
type Query = ParsedQuery;
const p = (r: FastifyRequest) => r.params as Params;
/** The query as parseQuery left it (registerApi runs it before every handler). */
const q = (r: FastifyRequest) => (r.query ?? {}) as Query;
const b = (r: FastifyRequest) => (r.body ?? {}) as Record<string, unknown>;
const who = (r: FastifyRequest) => r.principal?.username ?? 'anonymous';

const STRING = { type: 'string' } as const;
const BOOL = { type: 'boolean' } as const;

const DAG_RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
const TASK_INSTANCE_STATES = [
  'none',
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'up_for_reschedule',
  'upstream_failed',
  'skipped',
  'removed',
  'restarting',
  'deferred',
] as const;
const DATE_RANGE = (name: string): QuerySpec => ({
  [`${name}_gte`]: { kind: 'date', description: `${name} at or after (ISO 8601)` },
  [`${name}_lte`]: { kind: 'date', description: `${name} at or before (ISO 8601)` },
});
/** API order_by names of dag_run columns (execution_date is Airflow's older name of logical_date). */
const DAG_RUN_ORDER = {
  id: 'id',
  dag_id: 'dag_id',
  run_id: 'run_id',
  state: 'state',
  run_type: 'run_type',
  execution_date: 'logical_date',
  logical_date: 'logical_date',
  start_date: 'start_date',
  end_date: 'end_date',
  updated_at: 'updated_at',
} as const;
const DAG_ORDER = ['dag_id', 'owners', 'is_paused', 'fileloc', 'last_parsed_time', 'next_dagrun'] as const;
const EVENT_LOG_ORDER = ['id', 'dttm', 'when', 'dag_id', 'task_id', 'run_id', 'event', 'owner'] as const;
const IMPORT_ERROR_ORDER = ['id', 'timestamp', 'filename'] as const;
/** The dag-run date filters given, as column ranges. */
function runRanges(query: Query): RunRange[] {
  const columns = [
    ['execution_date', 'logical_date'],
    ['start_date', 'start_date'],
    ['end_date', 'end_date'],
    ['updated_at', 'updated_at'],
  ] as const;
  const ranges: RunRange[] = [];
  for (const [param, column] of columns) {
    const from = query[`${param}_gte`];
    const to = query[`${param}_lte`];
    if (typeof from === 'number') ranges.push({ column, op: '>=', value: from });
    if (typeof to === 'number') ranges.push({ column, op: '<=', value: to });
  }
  return ranges;
}

const MAP_INDEX = {
  kind: 'int',
  min: -1,
  max: MAX_QUERY_INT,
  description: '-1 for an unmapped task',
} as const;
const order = (fields: readonly string[]): QuerySpec => ({
  order_by: { kind: 'order_by', fields, description: 'Field to sort by; prefix with - for descending' },
});

export function apiEndpoints(web: WebContext): Endpoint[] {
  const db = web.db;
  const fernet = web.app.fernet;
  const audit = (
    r: FastifyRequest,
    event: string,
    extra: Omit<Parameters<typeof recordAudit>[1], 'event' | 'owner'> = {},
  ) => recordAudit(db, { event, owner: who(r), ...extra });

  const dagFilter = async (query: Query) => {
    const { limit, offset } = paging(web, query);
    const paused = query.paused as boolean | undefined;
    const onlyActive = (query.only_active as boolean | undefined) ?? true;
    let base = db.selectFrom('dag');
    if (onlyActive) base = base.where('is_active', '=', 1);
    if (paused !== undefined) base = base.where('is_paused', '=', paused ? 1 : 0);
    const tags = query.tags as string[] | undefined;
    if (tags?.length)
      base = base.where('dag_id', 'in', (eb) =>
        eb.selectFrom('dag_tag').select('dag_tag.dag_id').where('name', 'in', tags),
      );
    const pattern = query.dag_id_pattern;
    if (typeof pattern === 'string' && pattern) base = base.where(containsText(sql.ref('dag_id'), pattern));
    const sort = orderOf(query) ?? { field: 'dag_id', desc: false };
    const dir = sort.desc ? 'desc' : 'asc';
    const [rows, total] = await Promise.all([
      base
        .selectAll()
        .orderBy(sort.field as (typeof DAG_ORDER)[number], dir)
        .orderBy('dag_id', dir)
        .limit(limit)
        .offset(offset)
        .execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
    ]);
    const tagMap = await tagsOf(
      db,
      rows.map((d) => d.dag_id),
    );
    return {
      dags: rows.map((d) => dagJson(d, tagMap.get(d.dag_id) ?? [])),
      total_entries: Number(total?.n ?? 0),
    };
  };

  const downstreamOf = (tasks: { taskId: string; upstream: string[] }[]) => {
    const down = new Map<string, string[]>(tasks.map((t) => [t.taskId, []]));
    for (const t of tasks) for (const u of t.upstream) down.get(u)?.push(t.taskId);
    return down;
  };

  return [
    {
      method: 'GET',
      path: '/health',
      action: 'none',
      tag: 'Monitoring',
      summary: 'Health of the metadatabase, scheduler and other components',
      handler: async () => healthReport(db, healthThresholds(web.app)),
    },
    {
      method: 'GET',
      path: '/version',
      action: 'none',
      tag: 'Monitoring',
      summary: 'Updraft version',
      handler: async () => ({ version: UPDRAFT_VERSION, git_version: null }),
    },

    {
      method: 'GET',
      path: '/dags',
      action: 'read',
      tag: 'DAG',
      summary: 'List DAGs (limit, offset, tags, paused, only_active, dag_id_pattern, order_by)',
      query: {
        ...PAGING,
        tags: { kind: 'list', description: 'Only DAGs with any of these tags' },
        paused: { kind: 'bool' },
        only_active: { kind: 'bool', description: 'Only DAGs whose file still defines them (default true)' },
        dag_id_pattern: { kind: 'string', description: 'Substring of the DAG id' },
        ...order(DAG_ORDER),
      },
      handler: async (r) => dagFilter(q(r)),
    },
    {
      method: 'GET',
      path: '/dags/:dag_id',
      action: 'read',
      tag: 'DAG',
      summary: 'Get a DAG',
      handler: async (r) => {
        const dag = await getDag(db, p(r).dag_id!);
        return dagJson(dag, (await tagsOf(db, [dag.dag_id])).get(dag.dag_id) ?? []);
      },
    },
    {
      method: 'PATCH',
      path: '/dags/:dag_id',
      action: 'operate_dags',
      tag: 'DAG',
      summary: 'Pause or unpause a DAG',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['is_paused'],
        properties: { is_paused: BOOL },
      },
      query: { update_mask: { kind: 'list', values: ['is_paused'], description: 'Fields to update' } },
      handler: async (r) => {
        const dagId = p(r).dag_id!;
        const paused = b(r).is_paused as boolean;
        await ops.setPaused(web.app, dagId, paused);
        await audit(r, paused ? 'paused' : 'unpaused', { dagId });
        const dag = await getDag(db, dagId);
        return dagJson(dag, (await tagsOf(db, [dagId])).get(dagId) ?? []);
      },
    },
    {
      method: 'DELETE',
      path: '/dags/:dag_id',
      action: 'operate_dags',
      tag: 'DAG',
      summary: 'Delete a DAG and its runs',
      handler: async (r, reply) => {
        await ops.deleteDag(web.app, p(r).dag_id!);
        await audit(r, 'delete_dag', { dagId: p(r).dag_id! });
        return reply.status(204).send();
      },
    },
    {
      method: 'GET',
      path: '/dags/:dag_id/tasks',
      action: 'read',
      tag: 'DAG',
      summary: 'Tasks of a DAG',
      handler: async (r) => {
        const dag = await getSerializedDag(db, p(r).dag_id!);
        const down = downstreamOf(dag.tasks);
        return {
          tasks: dag.tasks.map((t) => taskJson(t, down.get(t.taskId) ?? [])),
          total_entries: dag.tasks.length,
        };
      },
    },
    {
      method: 'GET',
      path: '/dags/:dag_id/tasks/:task_id',
      action: 'read',
      tag: 'DAG',
      summary: 'One task of a DAG',
      handler: async (r) => {
        const dag = await getSerializedDag(db, p(r).dag_id!);
        const task = dag.tasks.find((t) => t.taskId === p(r).task_id);
        if (!task) throw new NotFoundError(`Task "${p(r).task_id}" not found in DAG "${dag.dagId}".`);
        return taskJson(task, downstreamOf(dag.tasks).get(task.taskId) ?? []);
      },
    },

    {
      method: 'GET',
      path: '/dags/:dag_id/dagRuns',
      action: 'read',
      tag: 'DAGRun',
      summary: 'List runs of a DAG ("~" for all DAGs)',
      query: {
        ...PAGING,
        state: { kind: 'list', values: DAG_RUN_STATES },
        ...DATE_RANGE('execution_date'),
        ...DATE_RANGE('start_date'),
        ...DATE_RANGE('end_date'),
        ...DATE_RANGE('updated_at'),
        ...order(Object.keys(DAG_RUN_ORDER)),
      },
      handler: async (r) => {
        const dagId = p(r).dag_id!;
        if (dagId !== '~') await getDag(db, dagId);
        const query = q(r);
        const sort = orderOf(query);
        const { rows, total } = await listDagRuns(db, {
          dagId: dagId === '~' ? undefined : dagId,
          states: query.state as string[] | undefined,
          ranges: runRanges(query),
          sort: sort && {
            column: DAG_RUN_ORDER[sort.field as keyof typeof DAG_RUN_ORDER],
            desc: sort.desc,
          },
          ...paging(web, query),
        });
        return { dag_runs: rows.map(dagRunJson), total_entries: total };
      },
    },
    {
      method: 'POST',
      path: '/dags/:dag_id/dagRuns',
      action: 'operate_dags',
      tag: 'DAGRun',
      summary: 'Trigger a DAG run with conf',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          dag_run_id: { type: ['string', 'null'] },
          logical_date: { type: ['string', 'null'] },
          execution_date: { type: ['string', 'null'] },
          conf: { type: 'object' },
          note: { type: ['string', 'null'] },
        },
      },
      handler: async (r) => {
        const body = b(r);
        const dagId = p(r).dag_id!;
        const run = await ops.triggerDagRun(web.app, dagId, {
          runId: (body.dag_run_id as string | null) ?? undefined,
          conf: (body.conf as Record<string, unknown> | undefined) ?? null,
          logicalDate: optionalInstant(body.logical_date ?? body.execution_date, 'logical_date'),
        });
        await audit(r, 'trigger', { dagId, runId: run.run_id, extra: run.conf });
        return dagRunJson(run);
      },
    },
    {
      method: 'GET',
      path: '/dags/:dag_id/dagRuns/:dag_run_id',
      action: 'read',
      tag: 'DAGRun',
      summary: 'Get a DAG run',
      handler: async (r) => dagRunJson(await getDagRun(db, p(r).dag_id!, p(r).dag_run_id!)),
    },
    {
      method: 'PATCH',
      path: '/dags/:dag_id/dagRuns/:dag_run_id',
      action: 'operate_dags',
      tag: 'DAGRun',
      summary: 'Set a run success, failed or queued',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['state'],
        properties: { state: { enum: ['success', 'failed', 'queued'] } },
      },
      handler: async (r) => {
        const { dag_id, dag_run_id } = p(r) as { dag_id: string; dag_run_id: string };
        const state = b(r).state as 'success' | 'failed' | 'queued';
        const run = await ops.setDagRunState(web.app, dag_id, dag_run_id, state);
        await audit(r, `dagrun_${state}`, { dagId: dag_id, runId: dag_run_id });
        return dagRunJson(run);
      },
    },
    {
      method: 'DELETE',
      path: '/dags/:dag_id/dagRuns/:dag_run_id',
      action: 'operate_dags',
      tag: 'DAGRun',
      summary: 'Delete a DAG run',
      handler: async (r, reply) => {
        const { dag_id, dag_run_id } = p(r) as { dag_id: string; dag_run_id: string };
        await ops.deleteDagRun(db, dag_id, dag_run_id);
        await audit(r, 'delete_dagrun', { dagId: dag_id, runId: dag_run_id });
        return reply.status(204).send();
      },
    },

    {
      method: 'GET',
      path: '/dags/:dag_id/dagRuns/:dag_run_id/taskInstances',
      action: 'read',
      tag: 'TaskInstance',
      summary: 'Task instances of a run',
      query: { ...PAGING, state: { kind: 'list', values: TASK_INSTANCE_STATES } },
      handler: async (r) => {
        const { dag_id, dag_run_id } = p(r) as { dag_id: string; dag_run_id: string };
        if (dag_id !== '~' && dag_run_id !== '~') await getDagRun(db, dag_id, dag_run_id);
        const { rows, total } = await listTaskInstances(db, {
          dagId: dag_id === '~' ? undefined : dag_id,
          runId: dag_run_id === '~' ? undefined : dag_run_id,
          states: q(r).state as string[] | undefined,
          ...paging(web, q(r)),
        });
        const masker = await web.secrets.masker();
        return { task_instances: rows.map((t) => taskInstanceJson(t, masker)), total_entries: total };
      },
    },
    {
      method: 'GET',
      path: '/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id',
      action: 'read',
      tag: 'TaskInstance',
      summary: 'One task instance',
      query: { map_index: MAP_INDEX },
      handler: async (r) => {
        const { dag_id, dag_run_id, task_id } = p(r) as Record<string, string>;
        return taskInstanceJson(
          await getTaskInstance(
            db,
            dag_id!,
            dag_run_id!,
            task_id!,
            (q(r).map_index as number | undefined) ?? -1,
          ),
          await web.secrets.masker(),
        );
      },
    },
    {
      method: 'GET',
      path: '/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/logs/:task_try_number',
      action: 'read',
      tag: 'TaskInstance',
      summary: 'Log of one try (JSON {content, continuation_token}, or text/plain when asked)',
      query: {
        map_index: MAP_INDEX,
        token: {
          kind: 'int',
          min: 0,
          max: Number.MAX_SAFE_INTEGER,
          description: 'continuation_token of the previous answer',
        },
      },
      handler: async (r, reply) => {
        const { dag_id, dag_run_id, task_id, task_try_number } = p(r) as Record<string, string>;
        const tryNumber = pathInt(task_try_number, 'task_try_number', 1);
        const mapIndex = (q(r).map_index as number | undefined) ?? -1;
        const ti = await getTaskInstance(db, dag_id!, dag_run_id!, task_id!, mapIndex);
        if (tryNumber > Math.max(ti.try_number, 1))
          throw new NotFoundError(`Task instance has no try ${tryNumber} (latest is ${ti.try_number}).`);
        const offset = (q(r).token as number | undefined) ?? 0;
        const chunk = await readTryLog(
          web.app.config.values,
          db,
          { dagId: dag_id!, runId: dag_run_id!, taskId: task_id!, mapIndex, tryNumber },
          offset,
          ti.hostname,
        );
        const content = (await web.secrets.masker()).redact(chunk.content);
        if ((r.headers.accept ?? '').startsWith('text/plain'))
          return reply.type('text/plain; charset=utf-8').send(content);
        return { content, continuation_token: String(chunk.nextOffset) };
      },
    },
    {
      method: 'GET',
      path: '/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/xcomEntries',
      action: 'read',
      tag: 'XCom',
      summary: 'XCom entries of a task instance',
      query: PAGING,
      handler: async (r) => {
        const { dag_id, dag_run_id, task_id } = p(r) as Record<string, string>;
        const { limit, offset } = paging(web, q(r));
        const rows = await listXcoms(
          db,
          dag_id!,
          dag_run_id!,
          task_id === '~' ? undefined : task_id,
          limit,
          offset,
        );
        return { xcom_entries: rows.map((x) => xcomJson(x, false)), total_entries: rows.length };
      },
    },
    {
      method: 'GET',
      path: '/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/xcomEntries/:xcom_key',
      action: 'read',
      tag: 'XCom',
      summary: 'One XCom value',
      handler: async (r) => {
        const { dag_id, dag_run_id, task_id, xcom_key } = p(r) as Record<string, string>;
        const row = (await listXcoms(db, dag_id!, dag_run_id!, task_id, 1000)).find(
          (x) => x.key === xcom_key,
        );
        if (!row) throw new NotFoundError(`XCom "${xcom_key}" not found.`);
        const masker = await web.secrets.masker();
        return xcomJson({ ...row, value: masker.redactJsonText(row.value) }, true);
      },
    },
    {
      method: 'POST',
      path: '/dags/:dag_id/clearTaskInstances',
      action: 'operate_dags',
      tag: 'DAG',
      summary: 'Clear task instances (dry_run defaults to true, as in Airflow)',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: {
          dry_run: BOOL,
          task_ids: { type: 'array', items: STRING },
          start_date: STRING,
          end_date: STRING,
          only_failed: BOOL,
          only_running: BOOL,
          include_subdags: BOOL,
          include_parentdag: BOOL,
          reset_dag_runs: BOOL,
          dag_run_id: { type: ['string', 'null'] },
          include_upstream: BOOL,
          include_downstream: BOOL,
          include_future: BOOL,
          include_past: BOOL,
        },
      },
      handler: async (r) => {
        const body = b(r);
        const dagId = p(r).dag_id!;
        await getDag(db, dagId);
        const dryRun = (body.dry_run as boolean | undefined) ?? true;
        const cleared = await ops.clearTaskInstances(web.app, {
          dagId,
          runId: (body.dag_run_id as string | null) ?? undefined,
          startDate: optionalInstant(body.start_date, 'start_date'),
          endDate: optionalInstant(body.end_date, 'end_date'),
          taskIds: body.task_ids as string[] | undefined,
          upstream: body.include_upstream as boolean | undefined,
          downstream: body.include_downstream as boolean | undefined,
          past: body.include_past as boolean | undefined,
          future: body.include_future as boolean | undefined,
          onlyFailed: body.only_failed as boolean | undefined,
          dryRun,
        });
        if (!dryRun)
          await audit(r, 'clear', { dagId, runId: (body.dag_run_id as string | null) ?? null, extra: body });
        return {
          task_instances: cleared.map((t) => ({
            dag_id: t.dag_id,
            dag_run_id: t.run_id,
            task_id: t.task_id,
            map_index: t.map_index,
            execution_date: null,
          })),
        };
      },
    },
    {
      method: 'POST',
      path: '/dags/:dag_id/updateTaskInstancesState',
      action: 'operate_dags',
      tag: 'DAG',
      summary: 'Mark task instances success or failed',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['task_id', 'dag_run_id', 'new_state'],
        properties: {
          task_id: STRING,
          dag_run_id: STRING,
          new_state: { enum: ['success', 'failed'] },
          dry_run: BOOL,
          include_upstream: BOOL,
          include_downstream: BOOL,
          include_future: BOOL,
          include_past: BOOL,
        },
      },
      handler: async (r) => {
        const body = b(r);
        const dagId = p(r).dag_id!;
        const changed = await ops.setTaskInstanceState(web.app, {
          dagId,
          runId: body.dag_run_id as string,
          taskId: body.task_id as string,
          state: body.new_state as 'success' | 'failed',
          upstream: body.include_upstream as boolean | undefined,
          downstream: body.include_downstream as boolean | undefined,
          dryRun: (body.dry_run as boolean | undefined) ?? true,
        });
        if (body.dry_run === false)
          await audit(r, `mark_${String(body.new_state)}`, {
            dagId,
            runId: body.dag_run_id as string,
            taskId: body.task_id as string,
          });
        return {
          task_instances: changed.map((t) => ({
            dag_id: t.dag_id,
            dag_run_id: t.run_id,
            task_id: t.task_id,
            map_index: t.map_index,
            execution_date: null,
          })),
        };
      },
    },

    {
      method: 'GET',
      path: '/variables',
      action: 'manage_resources',
      tag: 'Variable',
      summary: 'List variables (sensitive values masked)',
      query: { ...PAGING, ...order(['key']) },
      handler: async (r) => {
        const { limit, offset } = paging(web, q(r));
        const { rows, total } = await res.listVariables(web.store, fernet, limit, offset, orderOf(q(r)));
        return { variables: rows, total_entries: total };
      },
    },
    {
      method: 'GET',
      path: '/variables/:variable_key',
      action: 'manage_resources',
      tag: 'Variable',
      summary: 'Get a variable',
      handler: async (r) => res.getVariable(web.store, fernet, p(r).variable_key!),
    },
    {
      method: 'POST',
      path: '/variables',
      action: 'manage_resources',
      tag: 'Variable',
      summary: 'Create or replace a variable',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'value'],
        properties: { key: STRING, value: STRING, description: { type: ['string', 'null'] } },
      },
      handler: async (r) => {
        const body = b(r);
        await res.setVariable(
          web.store,
          fernet,
          body.key as string,
          body.value as string,
          (body.description as string | null) ?? null,
        );
        await audit(r, 'variable.create', { extra: { key: body.key } });
        return res.getVariable(web.store, fernet, body.key as string);
      },
    },
    {
      method: 'PATCH',
      path: '/variables/:variable_key',
      action: 'manage_resources',
      tag: 'Variable',
      summary: 'Update a variable',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['value'],
        properties: { key: STRING, value: STRING, description: { type: ['string', 'null'] } },
      },
      handler: async (r) => {
        const key = p(r).variable_key!;
        await res.getVariable(web.store, fernet, key);
        const body = b(r);
        if (body.key !== undefined && body.key !== key)
          throw new ValidationError('The key in the body must match the URL.');
        await res.setVariable(
          web.store,
          fernet,
          key,
          body.value as string,
          (body.description as string | null) ?? null,
        );
        await audit(r, 'variable.edit', { extra: { key } });
        return res.getVariable(web.store, fernet, key);
      },
    },
    {
      method: 'DELETE',
      path: '/variables/:variable_key',
      action: 'manage_resources',
      tag: 'Variable',
      summary: 'Delete a variable',
      handler: async (r, reply) => {
        await res.deleteVariable(web.store, p(r).variable_key!);
        await audit(r, 'variable.delete', { extra: { key: p(r).variable_key } });
        return reply.status(204).send();
      },
    },

    {
      method: 'GET',
      path: '/connections',
      action: 'manage_resources',
      tag: 'Connection',
      summary: 'List connections (passwords masked)',
      query: { ...PAGING, ...order(['connection_id', 'conn_type', 'host']) },
      handler: async (r) => {
        const { limit, offset } = paging(web, q(r));
        const { rows, total } = await res.listConnections(web.store, fernet, limit, offset, orderOf(q(r)));
        return { connections: rows, total_entries: total };
      },
    },
    {
      method: 'GET',
      path: '/connections/:connection_id',
      action: 'manage_resources',
      tag: 'Connection',
      summary: 'Get a connection',
      handler: async (r) => res.getConnection(web.store, fernet, p(r).connection_id!),
    },
    {
      method: 'POST',
      path: '/connections',
      action: 'manage_resources',
      tag: 'Connection',
      summary: 'Create a connection',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['connection_id', 'conn_type'],
        properties: {
          connection_id: STRING,
          conn_type: STRING,
          description: { type: ['string', 'null'] },
          host: { type: ['string', 'null'] },
          login: { type: ['string', 'null'] },
          schema: { type: ['string', 'null'] },
          port: { type: ['integer', 'null'] },
          password: { type: ['string', 'null'] },
          extra: { type: ['string', 'null'] },
        },
      },
      handler: async (r) => {
        const body = b(r) as unknown as res.ConnectionInput;
        await res.createConnection(web.store, fernet, body);
        await audit(r, 'connection.create', { extra: { connection_id: body.connection_id } });
        return res.getConnection(web.store, fernet, body.connection_id);
      },
    },
    {
      method: 'DELETE',
      path: '/connections/:connection_id',
      action: 'manage_resources',
      tag: 'Connection',
      summary: 'Delete a connection',
      handler: async (r, reply) => {
        await res.deleteConnection(web.store, p(r).connection_id!);
        await audit(r, 'connection.delete', { extra: { connection_id: p(r).connection_id } });
        return reply.status(204).send();
      },
    },

    {
      method: 'GET',
      path: '/pools',
      action: 'manage_resources',
      tag: 'Pool',
      summary: 'List pools with slot usage',
      query: { ...PAGING, ...order(['name', 'slots']) },
      handler: async (r) => {
        const { limit, offset } = paging(web, q(r));
        const { rows, total } = await res.listPools(web.store, limit, offset, orderOf(q(r)));
        return { pools: rows, total_entries: total };
      },
    },
    {
      method: 'GET',
      path: '/pools/:pool_name',
      action: 'manage_resources',
      tag: 'Pool',
      summary: 'Get a pool',
      handler: async (r) => res.getPool(web.store, p(r).pool_name!),
    },
    {
      method: 'POST',
      path: '/pools',
      action: 'manage_resources',
      tag: 'Pool',
      summary: 'Create a pool',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'slots'],
        properties: { name: STRING, slots: { type: 'integer' }, description: { type: ['string', 'null'] } },
      },
      handler: async (r) => {
        const body = b(r);
        await res.upsertPool(
          web.store,
          body.name as string,
          body.slots as number,
          (body.description as string | null) ?? null,
        );
        await audit(r, 'pool.create', { extra: { pool: body.name } });
        return res.getPool(web.store, body.name as string);
      },
    },
    {
      method: 'PATCH',
      path: '/pools/:pool_name',
      action: 'manage_resources',
      tag: 'Pool',
      summary: 'Change a pool’s slots or description',
      body: {
        type: 'object',
        additionalProperties: false,
        properties: { name: STRING, slots: { type: 'integer' }, description: { type: ['string', 'null'] } },
      },
      handler: async (r) => {
        const name = p(r).pool_name!;
        const current = await res.getPool(web.store, name);
        const body = b(r);
        await res.upsertPool(
          web.store,
          name,
          (body.slots as number | undefined) ?? current.slots,
          body.description === undefined ? current.description : (body.description as string | null),
        );
        await audit(r, 'pool.edit', { extra: { pool: name } });
        return res.getPool(web.store, name);
      },
    },
    {
      method: 'DELETE',
      path: '/pools/:pool_name',
      action: 'manage_resources',
      tag: 'Pool',
      summary: 'Delete a pool',
      handler: async (r, reply) => {
        await res.deletePool(web.store, p(r).pool_name!);
        await audit(r, 'pool.delete', { extra: { pool: p(r).pool_name } });
        return reply.status(204).send();
      },
    },

    {
      method: 'GET',
      path: '/importErrors',
      action: 'read',
      tag: 'ImportError',
      summary: 'DAG files that failed to import',
      query: { ...PAGING, ...order(IMPORT_ERROR_ORDER) },
      handler: async (r) => {
        const { limit, offset } = paging(web, q(r));
        const sort = orderOf(q(r));
        const { rows, total } = await listImportErrors(
          db,
          limit,
          offset,
          sort && {
            column: sort.field as (typeof IMPORT_ERROR_ORDER)[number],
            desc: sort.desc,
          },
        );
        return { import_errors: rows.map(importErrorJson), total_entries: total };
      },
    },
    {
      method: 'GET',
      path: '/importErrors/:import_error_id',
      action: 'read',
      tag: 'ImportError',
      summary: 'One import error',
      handler: async (r) => {
        const id = pathInt(p(r).import_error_id, 'import_error_id', 1);
        const row = await db.selectFrom('import_error').selectAll().where('id', '=', id).executeTakeFirst();
        if (!row) throw new NotFoundError(`Import error ${id} not found.`);
        return importErrorJson(row);
      },
    },
    {
      method: 'GET',
      path: '/jobs',
      action: 'read',
      tag: 'Job',
      summary:
        'Scheduler, DAG processor, worker and task jobs (filters: job_type, hostname, state, is_alive), newest first',
      query: {
        ...PAGING,
        job_type: { kind: 'string', description: 'SchedulerJob, DagProcessorJob, WorkerJob or LocalTaskJob' },
        hostname: { kind: 'string' },
        state: { kind: 'list', values: JOB_STATES },
        is_alive: { kind: 'bool', description: 'Running with a heartbeat within the health threshold' },
      },
      handler: async (r) => {
        const query = q(r);
        const { limit, offset } = paging(web, query);
        const states = query.state as string[] | undefined;
        if (states !== undefined && states.length > 1) throw new ValidationError('state must be given once.');
        const { rows, total } = await listJobs(
          db,
          {
            jobType: query.job_type as string | undefined,
            hostname: query.hostname as string | undefined,
            state: states?.[0] as (typeof JOB_STATES)[number] | undefined,
            isAlive: query.is_alive as boolean | undefined,
          },
          { limit, offset },
          { thresholdMs: healthThresholds(web.app).schedulerSeconds * 1000, now: Date.now() },
        );
        return {
          jobs: rows.map((j) => ({ ...jobJson(j), is_alive: j.is_alive })),
          total_entries: total,
        };
      },
    },
    {
      method: 'GET',
      path: '/eventLogs',
      action: 'read',
      tag: 'EventLog',
      summary: 'Audit log of user actions',
      query: {
        ...PAGING,
        dag_id: { kind: 'string' },
        task_id: { kind: 'string' },
        run_id: { kind: 'string' },
        event: { kind: 'string' },
        owner: { kind: 'string' },
        before: { kind: 'date', description: 'Entries before this time (ISO 8601)' },
        after: { kind: 'date', description: 'Entries after this time (ISO 8601)' },
        ...order(EVENT_LOG_ORDER),
      },
      handler: async (r) => {
        const query = q(r);
        const { limit, offset } = paging(web, query);
        let base = db.selectFrom('log');
        for (const column of ['dag_id', 'task_id', 'run_id', 'event', 'owner'] as const) {
          const value = query[column];
          if (typeof value === 'string') base = base.where(column, '=', value);
        }
        if (typeof query.before === 'number') base = base.where('dttm', '<', query.before);
        if (typeof query.after === 'number') base = base.where('dttm', '>', query.after);
        const sort = orderOf(query) ?? { field: 'id', desc: true };
        // "when" is Airflow's name of the entry's time.
        const column = (sort.field === 'when' ? 'dttm' : sort.field) as Exclude<
          (typeof EVENT_LOG_ORDER)[number],
          'when'
        >;
        const dir = sort.desc ? 'desc' : 'asc';
        const [rows, total] = await Promise.all([
          base.selectAll().orderBy(column, dir).orderBy('id', dir).limit(limit).offset(offset).execute(),
          base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
        ]);
        return { event_logs: rows.map(eventLogJson), total_entries: Number(total?.n ?? 0) };
      },
    },
    {
      method: 'GET',
      path: '/users',
      action: 'manage_users',
      tag: 'User',
      summary: 'List users with their roles (Admin)',
      query: { ...PAGING, ...order(['username', 'email', 'first_name', 'last_name']) },
      handler: async (r) => {
        const { limit, offset } = paging(web, q(r));
        const all = sortRows((await users.listUsers(web.store)).map(userJson), orderOf(q(r)));
        return { users: all.slice(offset, offset + limit), total_entries: all.length };
      },
    },
    {
      method: 'GET',
      path: '/users/:username',
      action: 'manage_users',
      tag: 'User',
      summary: 'One user (Admin)',
      handler: async (r) => userJson(await users.getUserWithRoles(web.store, { username: p(r).username! })),
    },
    {
      method: 'GET',
      path: '/roles',
      action: 'manage_users',
      tag: 'Role',
      summary: 'Roles (Admin)',
      handler: async () => {
        const roles = await users.listRoles(web.store);
        return { roles: roles.map((name) => ({ name, actions: [] })), total_entries: roles.length };
      },
    },
    {
      method: 'GET',
      path: '/config',
      action: 'read_config',
      tag: 'Config',
      summary: 'Current configuration (Admin, and only if webserver.expose_config)',
      handler: async () => {
        if (!web.app.config.values.webserver.expose_config) {
          throw new PermissionDeniedError(
            'Your Updraft administrator chose not to expose the configuration ([webserver] expose_config = False).',
          );
        }
        return { sections: configSections(web.app) };
      },
    },
  ];
}

export function registerApi(app: FastifyInstance, web: WebContext, endpoints: Endpoint[]): void {
  for (const e of endpoints) {
    const url = `/api/v1${e.path}`;
    const query = e.query ?? {};
    app.route({
      method: e.method,
      url,
      schema: e.body ? { body: e.body } : undefined,
      // Before the body's schema is checked, as fastify checks a querystring schema.
      preValidation: async (request) => {
        request.query = parseQuery(query, request.query);
        if (e.body) refuseUnknownFields(e.body, request.body);
      },
      preHandler: e.action === 'none' ? undefined : apiGuard(web.guard, e.action),
      handler: e.handler,
    });
  }
}
