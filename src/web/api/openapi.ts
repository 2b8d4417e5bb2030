import { UPDRAFT_VERSION } from '../web-context.js';
import { PERMISSIONS } from '../auth/roles.js';
import { openApiQueryParameters } from './query.js';
import type { Endpoint } from './routes.js';

/**
 * The OpenAPI 3 document, generated from the same endpoint list that registers the routes, so
 * the document cannot drift from what the server serves.
 */
export function openApiDocument(endpoints: Endpoint[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of endpoints) {
    const path = e.path.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...[...e.path.matchAll(/:(\w+)/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      // Only these: any other query parameter is a 400.
      ...openApiQueryParameters(e.query ?? {}),
    ];
    const operation: Record<string, unknown> = {
      summary: e.summary,
      tags: [e.tag],
      operationId: `${e.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase())}`,
      parameters,
      responses: {
        [e.method === 'DELETE' ? '204' : '200']: { description: 'Success' },
        '400': { $ref: '#/components/responses/BadRequest' },
        '401': { $ref: '#/components/responses/Unauthenticated' },
        '403': { $ref: '#/components/responses/PermissionDenied' },
        '404': { $ref: '#/components/responses/NotFound' },
      },
      'x-required-role': e.action === 'none' ? null : PERMISSIONS[e.action],
      security: e.action === 'none' ? [] : [{ Basic: [] }, { cookieAuth: [] }],
    };
    if (e.body)
      operation.requestBody = { required: true, content: { 'application/json': { schema: e.body } } };
    (paths[path] ??= {})[e.method.toLowerCase()] = operation;
  }
  const problem = {
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Updraft REST API',
      version: UPDRAFT_VERSION,
      description: 'Shaped like Apache Airflow’s stable REST API (/api/v1).',
    },
    servers: [{ url: '/api/v1' }],
    paths,
    components: {
      securitySchemes: {
        Basic: { type: 'http', scheme: 'basic' },
        cookieAuth: { type: 'apiKey', in: 'cookie', name: 'updraft_session' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['type', 'title', 'status'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'number' },
            detail: { type: 'string' },
          },
        },
      },
      responses: {
        BadRequest: { description: 'Client specified an invalid argument.', ...problem },
        Unauthenticated: {
          description: 'Request not authenticated due to missing, invalid or expired credentials.',
          ...problem,
        },
        PermissionDenied: { description: 'Client does not have sufficient permission.', ...problem },
        NotFound: { description: 'A specified resource is not found.', ...problem },
      },
    },
  };
}
