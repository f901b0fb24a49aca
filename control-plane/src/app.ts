/**
 * buildApp(deps): the Fastify admin API, not listening (tests inject requests; server.ts listens).
 */
import { metricsRoutes } from './metrics/metrics.routes';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { v7 as uuidv7 } from 'uuid';
import type { AppDeps, AppInstance } from './app-types';
import { AuthThrottle, registerAuth } from './auth/auth.hook';
import { AppError, envelope, fromDbError, type ErrorCode } from './errors';
import { describeValidation, registerValidation } from './lib/validation';
import { buildOpenApi, collectRoutes } from './lib/openapi';
import { tierRoutes } from './tiers/tiers.routes';
import { tenantRoutes } from './tenants/tenants.routes';
import { keyRoutes } from './keys/keys.routes';
import { jwtIssuerRoutes } from './jwt-issuers/jwt-issuers.routes';
import { mtlsRoutes } from './mtls-identities/mtls-identities.routes';
import { priceRoutes } from './model-prices/model-prices.routes';
import { adminTokenRoutes } from './admin-tokens/admin-tokens.routes';
import { auditRoutes } from './audit/audit.routes';
import { configRoutes } from './config/config.routes';

export interface BuildOptions {
  logger?: boolean | Record<string, unknown>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const CODE_FOR_STATUS: Record<number, ErrorCode> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 429: 'rate_limited' };

function clientMessage(err: FastifyError): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'request body is not valid JSON';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'unsupported content type (use application/json)';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'request body too large';
    default:
      return 'bad request';
  }
}

export async function buildApp(deps: AppDeps, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const base = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 1_048_576,
    trustProxy: deps.config.trustProxy,
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : uuidv7();
    },
    ajv: { customOptions: { removeAdditional: false } },
    // Router-level errors (bad URL encoding, over-long path parameters) get the envelope too.
    frameworkErrors: (err, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      void (reply as unknown as FastifyReply).code(status).send(envelope(CODE_FOR_STATUS[status] ?? 'bad_request', 'malformed request URL', String(req.id ?? uuidv7())));
    },
  });
  const app = base.withTypeProvider<TypeBoxTypeProvider>() as unknown as AppInstance;
  app.decorate('deps', deps);
  registerValidation(app as unknown as FastifyInstance);
  const routes = collectRoutes(app as unknown as FastifyInstance);

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((err: FastifyError & { details?: unknown }, req, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) req.log.error({ err_class: err.name, code: err.code }, 'request failed');
      return reply.code(err.status).send(envelope(err.code, err.status >= 500 ? 'internal error' : err.message, req.id, err.status >= 500 ? undefined : err.details));
    }
    if (err.validation) {
      return reply.code(400).send(envelope('bad_request', describeValidation(err.validationContext ?? 'body', err.validation as never), req.id));
    }
    const db = fromDbError(err);
    if (db) return reply.code(db.status).send(envelope(db.code, db.message, req.id));
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(envelope(CODE_FOR_STATUS[status] ?? 'bad_request', clientMessage(err), req.id));
    }
    // Never the message: it may quote input or internals.
    req.log.error({ err_class: err.name, code: err.code, stack: err.stack }, 'unhandled error');
    return reply.code(500).send(envelope('internal', 'internal error', req.id));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(envelope('not_found', 'no such endpoint', req.id)));

  registerAuth(app as unknown as FastifyInstance, deps.db, deps.config.ipAllowlist, new AuthThrottle(deps.config.authMaxFailures));

  app.get('/healthz', { config: { perm: 'public' }, schema: { summary: 'Liveness and dependency state.' } }, async () => {
    let db = 'ok';
    try {
      await deps.db.selectFrom('tiers').select('name').limit(1).execute();
    } catch {
      db = 'down';
    }
    return { status: db === 'ok' ? 'ok' : 'degraded', db, key_sync: deps.keySync.status() };
  });
  let openapi: Record<string, unknown> | undefined;
  app.get('/openapi.json', { config: { perm: 'public' } }, async () => (openapi ??= buildOpenApi(routes, { title: 'kong-llm-guard control plane', version: '0.1.0' })));

  metricsRoutes(app as unknown as FastifyInstance, { keySyncStatus: () => deps.keySync.status() });
  tierRoutes(app);
  tenantRoutes(app);
  keyRoutes(app);
  jwtIssuerRoutes(app);
  mtlsRoutes(app);
  priceRoutes(app);
  adminTokenRoutes(app);
  auditRoutes(app);
  configRoutes(app);
  await app.ready();
  return app as unknown as FastifyInstance;
}
