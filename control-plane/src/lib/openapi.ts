/**
 * OpenAPI 3.1 document built from the routes' own TypeBox schemas (collected on registration), so
 * the document cannot drift from what the server validates. Served at /openapi.json.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ERROR_CODES } from '../errors';

interface Collected {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  perm?: string;
}

const plain = (s: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(s ?? {})) as Record<string, unknown>;

export function collectRoutes(app: FastifyInstance): Collected[] {
  const routes: Collected[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) {
      if (m === 'HEAD' || m === 'OPTIONS') continue;
      routes.push({ method: m.toLowerCase(), url: r.url, schema: (r.schema ?? {}) as Record<string, unknown>, perm: (r.config as { perm?: string } | undefined)?.perm });
    }
  });
  return routes;
}

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'request_id'],
      properties: { code: { type: 'string', enum: [...ERROR_CODES] }, message: { type: 'string' }, request_id: { type: 'string' }, details: {} },
    },
  },
};

export function buildOpenApi(routes: Collected[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.url === '/openapi.json') continue;
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const s = r.schema;
    const parameters: unknown[] = [];
    for (const [where, key] of [['path', 'params'], ['query', 'querystring']] as const) {
      const obj = plain(s[key]);
      const props = (obj.properties ?? {}) as Record<string, unknown>;
      const required = new Set((obj.required as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries(props)) parameters.push({ name, in: where, required: where === 'path' || required.has(name), schema });
    }
    const responses: Record<string, unknown> = {};
    for (const [code, schema] of Object.entries(plain(s.response))) {
      responses[code] = code === '204' ? { description: 'No content' } : { description: 'OK', content: { 'application/json': { schema } } };
    }
    if (!Object.keys(responses).length) responses['200'] = { description: 'OK' };
    const errRef = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    for (const code of ['400', '401', '403', '404', '409', '429']) responses[code] = errRef;
    const op: Record<string, unknown> = {
      operationId: `${r.method}_${path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}`,
      summary: s.summary,
      tags: s.tags,
      parameters,
      responses,
      'x-permission': r.perm ?? 'none',
    };
    if (r.perm !== 'public') op.security = [{ bearer: [] }];
    if (s.body) {
      const body = plain(s.body) as { anyOf?: Array<{ type?: string }> };
      const optional = Array.isArray(body.anyOf) && body.anyOf.some((b) => b.type === 'null');
      op.requestBody = { required: !optional, content: { 'application/json': { schema: body } } };
    }
    if (r.method === 'post' && /\/(tiers|tenants|keys|jwt-issuers|mtls-identities|model-prices|admin-tokens)$/.test(r.url)) {
      parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } });
    }
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: { Error: ERROR_SCHEMA } },
  };
}
