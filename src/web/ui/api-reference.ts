import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { FAVICON_SVG } from './assets.js';

/**
 * The interactive API reference at /api/v1/ui/ (where Airflow 2 serves its Swagger UI), drawn by
 * Swagger UI from the same OpenAPI document as /api/v1/openapi.json; its scripts and styles are
 * served from node_modules, nothing from a CDN.
 */
export const API_REFERENCE_PATH = '/api/v1/ui';

export async function registerApiReference(server: FastifyInstance, document: object): Promise<void> {
  await server.register(swagger, { mode: 'static', specification: { document: document as never } });
  await server.register(swaggerUi, {
    routePrefix: API_REFERENCE_PATH,
    logo: { type: 'image/svg+xml', content: Buffer.from(FAVICON_SVG), href: '/home', target: '_self' },
    theme: { title: 'Updraft REST API reference' },
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false },
  });
}
