import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, fixtureDag, insertDag, startWebFixture, type WebFixture } from './web-fixture.js';

/**
 * Bad input to /api/v1, sent for real over HTTP (Node's parser and fastify's router only act on a
 * real socket): every answer is a 4xx in problem+json naming what was wrong, and nothing in the
 * metadata database changes. The endpoints come from the OpenAPI document, which is generated
 * from the same list that registers the routes, so a new endpoint is covered without editing this.
 */
let f: WebFixture;
let base = '';
let runId = '';
const admin = { authorization: basic('admin') };

interface Operation {
  method: string;
  url: string;
  parameters: { name: string; in: string; schema: { type?: string; format?: string; enum?: string[] } }[];
  hasBody: boolean;
}
const operations: Operation[] = [];

const send = (method: string, url: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
  fetch(base + url, { method, body: init.body, headers: { ...admin, ...init.headers } });
const json = (method: string, url: string, body: unknown) =>
  send(method, url, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function expectProblem(res: Response, status: number, ...mentions: string[]) {
  const text = await res.text();
  const where = res.url.slice(0, 200);
  expect(res.status, `${where}: ${text}`).toBe(status);
  expect(res.headers.get('content-type'), where).toContain('application/problem+json');
  const body = JSON.parse(text);
  expect(body).toEqual({
    type: `about:blank#${status}`,
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  for (const m of mentions) expect(body.detail, where).toContain(m);
  return body as { detail: string };
}

const TABLES = [
  'dag',
  'dag_tag',
  'dag_run',
  'task_instance',
  'variable',
  'connection',
  'slot_pool',
  'log',
  'xcom',
  'import_error',
] as const;
/** Everything a request could change, to show a refused one changed nothing. */
async function snapshot(): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) out[table] = await f.store.kysely.selectFrom(table).selectAll().execute();
  return JSON.stringify(out);
}

beforeAll(async () => {
  f = await startWebFixture('sqlite', { AIRFLOW__API__AUTH_BACKENDS: 'airflow.api.auth.backend.basic_auth' });
  await insertDag(f.store, fixtureDag('etl_daily'));
  await insertDag(f.store, fixtureDag('reporting'));
  await f.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(f.app.server.address() as { port: number }).port}`;

  const run = await json('POST', '/api/v1/dags/etl_daily/dagRuns', { logical_date: '2024-03-01T00:00:00Z' });
  expect(run.status).toBe(200);
  runId = (await run.json()).dag_run_id;
  await json('POST', '/api/v1/dags/etl_daily/dagRuns', { logical_date: '2024-01-01T00:00:00Z' });
  expect((await json('POST', '/api/v1/variables', { key: 'v1', value: 'one' })).status).toBe(200);
  expect((await json('POST', '/api/v1/connections', { connection_id: 'c1', conn_type: 'http' })).status).toBe(
    200,
  );
  expect((await json('POST', '/api/v1/pools', { name: 'p1', slots: 3 })).status).toBe(200);
  await f.store.kysely
    .insertInto('import_error')
    .values({ timestamp: Date.now(), filename: '/dags/broken.ts', stacktrace: 'SyntaxError' })
    .execute();

  const ids: Record<string, string> = {
    dag_id: 'etl_daily',
    dag_run_id: encodeURIComponent(runId),
    task_id: 'extract',
    task_try_number: '1',
    xcom_key: 'return_value',
    variable_key: 'v1',
    connection_id: 'c1',
    pool_name: 'p1',
    import_error_id: '1',
    username: 'viewer',
  };
  const doc = await (await send('GET', '/api/v1/openapi.json')).json();
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>))
    for (const [method, op] of Object.entries(methods)) {
      const operation = op as { parameters: Operation['parameters']; requestBody?: unknown };
      operations.push({
        method: method.toUpperCase(),
        url: `/api/v1${path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? name)}`,
        parameters: operation.parameters,
        hasBody: operation.requestBody !== undefined,
      });
    }
});
afterAll(async () => f?.close());

const withQuery = (o: Operation, query: string) => `${o.url}?${query}`;
const queryParams = (o: Operation) => o.parameters.filter((p) => p.in === 'query');

describe('query parameters, on every /api/v1 endpoint', () => {
  it('covers every route the API registers', () => {
    expect(operations.length).toBeGreaterThanOrEqual(40);
  });

  it('a parameter the endpoint does not know is a 400 naming it, and changes nothing', async () => {
    const before = await snapshot();
    for (const o of [
      ...operations,
      { method: 'GET', url: '/api/v1/openapi.json', parameters: [], hasBody: false },
    ]) {
      const res = await send(o.method, withQuery(o, 'execution_date_gte=garbage&no_such_filter=1'));
      const body = await expectProblem(res, 400, 'no_such_filter');
      if (!queryParams(o).some((p) => p.name === 'execution_date_gte'))
        expect(body.detail, o.url).toContain('execution_date_gte');
    }
    expect(await snapshot()).toBe(before);
  });

  it('offset=1e21 (which reached the SQL driver: a 500) is a 400', async () => {
    for (const url of ['/api/v1/dags', '/api/v1/dags/~/dagRuns', '/api/v1/eventLogs', '/api/v1/importErrors'])
      await expectProblem(await send('GET', `${url}?offset=1e21`), 400, 'offset');
  });

  it('absurd, negative and non-integer limit/offset are 400s naming the parameter', async () => {
    const paged = operations.filter((o) => queryParams(o).some((p) => p.name === 'offset'));
    expect(paged.length).toBeGreaterThanOrEqual(9);
    for (const o of paged) {
      for (const offset of ['1e21', '-1', '1.5', 'abc', '0x10', '2147483648'])
        await expectProblem(await send(o.method, withQuery(o, `offset=${offset}`)), 400, 'offset');
      for (const limit of ['0', '-5', '1e21', 'ten'])
        await expectProblem(await send(o.method, withQuery(o, `limit=${limit}`)), 400, 'limit');
      await expectProblem(await send(o.method, withQuery(o, 'limit=1&limit=2')), 400, 'limit');
      expect((await send(o.method, withQuery(o, 'limit=1&offset=2147483647'))).status, o.url).toBe(200);
    }
  });

  it('order_by: every listed field sorts, anything else is a 400 naming it', async () => {
    const ordered = operations.filter((o) => queryParams(o).some((p) => p.name === 'order_by'));
    expect(ordered.map((o) => o.url)).toEqual(
      expect.arrayContaining(['/api/v1/dags', '/api/v1/dags/etl_daily/dagRuns', '/api/v1/eventLogs']),
    );
    for (const o of ordered) {
      await expectProblem(await send(o.method, withQuery(o, 'order_by=no_such_field')), 400, 'no_such_field');
      await expectProblem(await send(o.method, withQuery(o, 'order_by=-')), 400, 'order_by');
      const fields = queryParams(o).find((p) => p.name === 'order_by')!.schema.enum!;
      for (const field of fields)
        expect((await send(o.method, withQuery(o, `order_by=${field}`))).status, `${o.url} ${field}`).toBe(
          200,
        );
    }
    const ids = async (order: string) =>
      (await (await send('GET', `/api/v1/dags?order_by=${order}`)).json()).dags.map(
        (d: { dag_id: string }) => d.dag_id,
      );
    expect(await ids('dag_id')).toEqual(['etl_daily', 'reporting']);
    expect(await ids('-dag_id')).toEqual(['reporting', 'etl_daily']);
  });

  it('date filters: a value that is not an ISO 8601 date is a 400; a valid one filters', async () => {
    for (const o of operations)
      for (const p of queryParams(o).filter((q) => q.schema.format === 'date-time'))
        for (const bad of ['garbage', '1', 'Tue Jan 2 2024', '2024-02-30'])
          await expectProblem(
            await send(o.method, withQuery(o, `${p.name}=${encodeURIComponent(bad)}`)),
            400,
            p.name,
          );
    const runs = async (query: string) =>
      (await (await send('GET', `/api/v1/dags/etl_daily/dagRuns?${query}`)).json()).dag_runs.map(
        (r: { dag_run_id: string }) => r.dag_run_id,
      );
    expect(await runs('execution_date_gte=2024-02-01')).toEqual([runId]);
    expect(await runs('execution_date_lte=2024-02-01')).not.toContain(runId);
    expect(await runs('execution_date_gte=2024-02-01&order_by=execution_date')).toEqual([runId]);
  });

  it('a list filter with a value outside its set is a 400 naming the value', async () => {
    await expectProblem(await send('GET', '/api/v1/dags/~/dagRuns?state=garbage'), 400, 'state', 'garbage');
    await expectProblem(
      await send(
        'GET',
        `/api/v1/dags/etl_daily/dagRuns/${encodeURIComponent(runId)}/taskInstances?state=done`,
      ),
      400,
      'done',
    );
    expect((await send('GET', '/api/v1/dags/~/dagRuns?state=queued,running')).status).toBe(200);
  });
});

describe('request bodies', () => {
  it('every body schema refuses unknown fields', async () => {
    const doc = await (await send('GET', '/api/v1/openapi.json')).json();
    type Op = { requestBody?: { content: Record<string, { schema: { additionalProperties?: unknown } }> } };
    let bodies = 0;
    for (const methods of Object.values(doc.paths as Record<string, Record<string, Op>>))
      for (const op of Object.values(methods))
        if (op.requestBody) {
          expect(op.requestBody.content['application/json']!.schema.additionalProperties).toBe(false);
          bodies++;
        }
    expect(bodies).toBeGreaterThanOrEqual(9);
  });

  it('an unknown field is a 400 naming it, on every endpoint with a body, and changes nothing', async () => {
    const before = await snapshot();
    const withBody = operations.filter((o) => o.hasBody);
    expect(withBody.length).toBeGreaterThanOrEqual(9);
    for (const o of withBody)
      await expectProblem(
        await json(o.method, o.url, { no_such_field: 1, other_field: 2 }),
        400,
        'no_such_field',
        'other_field',
      );
    expect(await snapshot()).toBe(before);
  });

  it('PATCH /dags with an unknown field or update_mask leaves the DAG as it was', async () => {
    const before = await snapshot();
    await expectProblem(
      await json('PATCH', '/api/v1/dags/etl_daily', { is_paused: true, owners: 'x' }),
      400,
      'owners',
    );
    await expectProblem(
      await json('PATCH', '/api/v1/dags/etl_daily?update_mask=is_paused,owners', { is_paused: true }),
      400,
      'update_mask',
      'owners',
    );
    expect(await snapshot()).toBe(before);
    const dag = await f.store.kysely
      .selectFrom('dag')
      .selectAll()
      .where('dag_id', '=', 'etl_daily')
      .executeTakeFirstOrThrow();
    expect(dag).toMatchObject({ is_paused: 0, owners: 'data-team' });
    const ok = await json('PATCH', '/api/v1/dags/reporting?update_mask=is_paused', { is_paused: true });
    expect(ok.status).toBe(200);
    expect((await ok.json()).is_paused).toBe(true);
  });

  it('JSON nested 100,000 deep is a 400 on every endpoint with a body, and changes nothing', async () => {
    const before = await snapshot();
    const deepObject = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    const deepArray = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const o of operations.filter((op) => op.hasBody)) {
      for (const body of [deepObject, deepArray, `{"conf":${deepObject}}`])
        await expectProblem(
          await send(o.method, o.url, { body, headers: { 'content-type': 'application/json' } }),
          400,
          'nested deeper',
        );
    }
    expect(await snapshot()).toBe(before);
    // Nesting within the bound still works (a conf 50 levels deep).
    const conf = JSON.parse('{"a":'.repeat(50) + '1' + '}'.repeat(50));
    expect((await json('POST', '/api/v1/dags/reporting/dagRuns', { conf })).status).toBe(200);
  });

  it('bad JSON, a body of the wrong type or content type, and a body too large are problem+json', async () => {
    const before = await snapshot();
    const url = '/api/v1/variables';
    await expectProblem(
      await send('POST', url, { body: '{', headers: { 'content-type': 'application/json' } }),
      400,
    );
    await expectProblem(
      await send('POST', url, { body: '[1]', headers: { 'content-type': 'application/json' } }),
      400,
      'JSON object',
    );
    await expectProblem(
      await send('POST', url, { body: 'key=v', headers: { 'content-type': 'text/plain' } }),
      400,
    );
    await expectProblem(
      await send('POST', url, { body: '<v/>', headers: { 'content-type': 'application/xml' } }),
      415,
    );
    const big = JSON.stringify({ key: 'big', value: 'x'.repeat(2 * 1024 * 1024) });
    await expectProblem(
      await send('POST', url, { body: big, headers: { 'content-type': 'application/json' } }),
      413,
    );
    expect(await snapshot()).toBe(before);
  });
});

describe("the server's and the router's own refusals are problem+json", () => {
  it('414 for a path segment over the limit, while a 250-character id is served', async () => {
    const before = await snapshot();
    await expectProblem(await send('GET', `/api/v1/dags/${'x'.repeat(2000)}`), 414);
    await expectProblem(await send('DELETE', `/api/v1/variables/${'x'.repeat(2000)}`), 414);
    await expectProblem(await send('GET', `/api/v1/dags/${'x'.repeat(250)}`), 404, 'not found');
    expect(await snapshot()).toBe(before);
  });

  it('431 for headers (or a URL) over 16 KB', async () => {
    await expectProblem(await send('GET', '/api/v1/dags', { headers: { 'x-big': 'x'.repeat(20_000) } }), 431);
    await expectProblem(await send('GET', `/api/v1/dags?dag_id_pattern=${'x'.repeat(20_000)}`), 431);
  });

  it('400 for a request that is not valid HTTP', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () =>
        socket.write('GET /api/v1/dags HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain('Content-Type: application/problem+json');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      type: 'about:blank#400',
      title: 'Bad Request',
      status: 400,
      detail: 'The request is not valid HTTP.',
    });
  });

  it('400 for a URL that is not validly percent-encoded; 404 for an unknown route', async () => {
    await expectProblem(await send('GET', '/api/v1/dags/%E0%A4%A'), 400, 'percent-encoded');
    for (const method of ['GET', 'POST', 'PATCH', 'DELETE'])
      await expectProblem(await send(method, '/api/v1/no/such/route'), 404);
  });
});
