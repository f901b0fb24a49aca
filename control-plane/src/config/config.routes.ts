import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { assertGlobal } from '../auth/scope';
import { audit } from '../audit/audit.service';
import { AppError, badRequest } from '../errors';
import { decodeCursor, pageSchema } from '../lib/pagination';
import { Nullable, NullableTimestamp, Timestamp, iso } from '../lib/dto';
import { configRepo } from './config.repository';
import type { PushResult } from './config.service';

const PushResultSchema = Type.Object({
  version: Nullable(Type.Integer()),
  status: Type.String({ description: 'applied | unchanged | not_pushed (no KONG_ADMIN_URL)' }),
  hash: Type.Optional(Type.String()),
  bytes: Type.Optional(Type.Integer()),
  errors: Type.Optional(Type.Array(Type.String())),
  warnings: Type.Optional(Type.Array(Type.String())),
});
const VersionMeta = Type.Object({
  version: Type.Integer(),
  created_at: Timestamp,
  hash: Type.String(),
  reason: Type.String(),
  created_by: Type.String(),
  push_status: Type.String(),
  push_error: Nullable(Type.String()),
  pushed_at: NullableTimestamp,
});
const VersionParam = Type.Object({ version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }, { additionalProperties: false });

function meta(r: { version: number; created_at: Date; hash: string; reason: string; created_by: string; push_status: string; push_error: string | null; pushed_at: Date | null }) {
  return { ...r, created_at: iso(r.created_at) as string, pushed_at: iso(r.pushed_at) };
}

function pushOutcome(r: PushResult): PushResult {
  if (r.status === 'invalid') throw badRequest(`the rendered config is invalid: ${(r.errors ?? []).slice(0, 10).join('; ')}`, { errors: r.errors });
  if (r.status === 'refused') throw new AppError('conflict', `the gateway refused version ${r.version}: ${(r.errors ?? []).slice(0, 10).join('; ')}`, { details: { version: r.version, errors: r.errors } });
  if (r.status === 'failed') throw new AppError('conflict', `version ${r.version} could not be delivered: ${(r.errors ?? []).join('; ')}`, { details: { version: r.version, errors: r.errors } });
  return r;
}

export function configRoutes(app: AppInstance): void {
  const { db, delivery } = app.deps;
  const tags = ['config'];
  const global = (req: Parameters<typeof actorOf>[0]) => {
    const actor = actorOf(req);
    assertGlobal(actor);
    return actor;
  };

  app.get(
    '/v1/config',
    {
      config: { perm: 'read' },
      schema: {
        tags,
        summary: 'State of the gateway config: the current render and the latest version.',
        response: { 200: Type.Object({ valid: Type.Boolean(), errors: Type.Array(Type.String()), warnings: Type.Array(Type.String()), bytes: Type.Integer(), kong_admin_url_set: Type.Boolean(), latest: Nullable(VersionMeta) }) },
      },
    },
    async (req) => {
      global(req);
      const r = await delivery.render();
      const latest = await configRepo.latest(db);
      const { config: _c, ...latestMeta } = latest ?? ({} as Record<string, never>);
      return {
        valid: r.errors.length === 0,
        errors: r.errors,
        warnings: r.warnings,
        bytes: Buffer.byteLength(JSON.stringify(r.config)),
        kong_admin_url_set: Boolean(delivery.kongAdminUrl),
        latest: latest ? meta(latestMeta as Parameters<typeof meta>[0]) : null,
      };
    },
  );

  app.post('/v1/config/push', { config: { perm: 'write' }, schema: { tags, summary: 'Render, validate, store and push the config now.', response: { 200: PushResultSchema } } }, async (req) => {
    const actor = global(req);
    const r = await delivery.push('manual push', actor.name);
    await audit(db, { actor, requestId: req.id }, { action: 'config.push', entity: 'config', entityId: String(r.version ?? '-'), after: { status: r.status, hash: r.hash, bytes: r.bytes } });
    return pushOutcome(r);
  });

  app.post('/v1/config/rollback/:version', { config: { perm: 'write' }, schema: { tags, summary: 'Push a stored version again (recorded as a new version).', params: VersionParam, response: { 200: PushResultSchema } } }, async (req) => {
    const actor = global(req);
    const r = await delivery.rollback(req.params.version, actor.name);
    await audit(db, { actor, requestId: req.id }, { action: 'config.rollback', entity: 'config', entityId: String(r.version ?? '-'), before: { version: req.params.version }, after: { status: r.status, hash: r.hash } });
    return pushOutcome(r);
  });

  app.get(
    '/v1/config/versions',
    {
      config: { perm: 'read' },
      schema: {
        tags,
        summary: 'Stored config versions, newest first.',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 512 })) }, { additionalProperties: false }),
        response: { 200: pageSchema(VersionMeta) },
      },
    },
    async (req) => {
      global(req);
      const limit = req.query.limit ?? 50;
      const c = decodeCursor(req.query.cursor);
      if (c !== undefined && typeof c !== 'number') throw badRequest('query.cursor: invalid cursor');
      const rows = await configRepo.list(db, c, limit);
      const more = rows.length > limit;
      const data = (more ? rows.slice(0, limit) : rows).map(meta);
      const last = data[data.length - 1];
      return { data, next_cursor: more && last ? Buffer.from(JSON.stringify([last.version])).toString('base64url') : null };
    },
  );

  app.get(
    '/v1/config/versions/:version',
    { config: { perm: 'read' }, schema: { tags, summary: 'One stored version with its config.', params: VersionParam, response: { 200: Type.Intersect([VersionMeta, Type.Object({ config: Type.Object({}, { additionalProperties: true }) })]) } } },
    async (req) => {
      global(req);
      const row = await configRepo.get(db, req.params.version);
      if (!row) throw new AppError('not_found', 'config version not found');
      return { ...meta(row), config: row.config };
    },
  );

  app.get(
    '/v1/config/diff',
    {
      config: { perm: 'read' },
      schema: {
        tags,
        summary: 'Diff between two versions (default: the last applied version → the current render).',
        querystring: Type.Object({ from: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })), to: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            from: Nullable(Type.Integer()),
            to: Type.Union([Type.Integer(), Type.Literal('current')]),
            changes: Type.Array(Type.Object({ path: Type.String(), op: Type.String(), before: Type.Optional(Type.Unknown()), after: Type.Optional(Type.Unknown()) })),
          }),
        },
      },
    },
    async (req) => {
      global(req);
      const d = await delivery.diff(req.query.from, req.query.to);
      return { ...d, from: typeof d.from === 'number' ? d.from : null };
    },
  );

  app.get(
    '/v1/config/export',
    {
      config: { perm: 'read' },
      schema: {
        tags,
        summary: 'The current config as a decK file (YAML by default), for teams that run decK.',
        querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('yaml'), Type.Literal('json')])) }, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      global(req);
      const format = req.query.format ?? 'yaml';
      const text = await delivery.exportConfig(format);
      reply.header('content-type', format === 'json' ? 'application/json; charset=utf-8' : 'application/yaml; charset=utf-8');
      reply.header('content-disposition', `attachment; filename="kong.${format === 'json' ? 'json' : 'yml'}"`);
      return text;
    },
  );
}
