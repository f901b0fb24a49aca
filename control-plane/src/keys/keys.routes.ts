import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { assertGlobal } from '../auth/scope';
import { idempotent } from '../lib/idempotency';
import { decodeCursor, pageSchema } from '../lib/pagination';
import { Nullable, NullableTimestamp, Timestamp } from '../lib/dto';
import { ListOfNames } from '../lib/limits-schemas';
import { keyDto, keyService } from './keys.service';
import { audit } from '../audit/audit.service';

const Scopes = Type.Object(
  { models: Type.Optional(ListOfNames('Allowed models, narrower than the tenant.')), features: Type.Optional(ListOfNames('Allowed features, narrower than the tenant.')) },
  { additionalProperties: false },
);
const Key = Type.Object({
  id: Type.String(),
  tenant_id: Type.String(),
  lineage_id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'Displayable prefix (lg_live_ + 4 characters).' }),
  scopes: Nullable(Scopes),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked')]),
  expires_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
  rotated_from: Nullable(Type.String()),
  rotated_to: Nullable(Type.String()),
  last_used_at: NullableTimestamp,
  created_at: Timestamp,
});
const Delivery = Type.Union([Type.Literal('ok'), Type.Literal('pending'), Type.Literal('disabled')], {
  description: 'Whether the change reached Redis (pending = retried in the background; disabled = no Redis, the key travels in the pushed config).',
});
const KeyWithSecret = Type.Object({
  key: Key,
  secret: Type.Optional(Type.String({ description: 'The API key. Shown once; never stored.' })),
  secret_redacted: Type.Optional(Type.Boolean({ description: 'True on an Idempotency-Key replay: the secret is not kept.' })),
  previous: Type.Optional(Key),
  delivery: Delivery,
});
const KeyWithDelivery = Type.Object({ key: Key, delivery: Delivery });

const TenantParam = Type.Object({ tenantId: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
const Expiry = Type.Optional(Nullable(Type.String({ format: 'date-time', description: 'Expiry (future); null = none.' })));
const KeyCreate = Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })), scopes: Type.Optional(Scopes), expires_at: Expiry }, { additionalProperties: false });
const KeyPatch = Type.Object(
  { name: Type.Optional(Type.String({ maxLength: 200 })), scopes: Type.Optional(Nullable(Scopes)), expires_at: Expiry },
  { additionalProperties: false, minProperties: 1 },
);
const Rotate = Type.Object(
  {
    overlap_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 90 * 86_400, description: 'How long the old key keeps working (default KEY_ROTATION_OVERLAP_SECONDS).' })),
    expires_at: Expiry,
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    include_revoked: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export function keyRoutes(app: AppInstance): void {
  const { db, keySync } = app.deps;
  const ctx = (req: Parameters<typeof actorOf>[0]) => ({ actor: actorOf(req), requestId: req.id });
  const delivery = (ok: boolean) => {
    // Without Redis, keys travel in llm-auth's static `keys` list: push the config instead.
    if (!keySync.enabled) app.deps.delivery.schedulePush('api keys changed');
    return (keySync.enabled ? (ok ? 'ok' : 'pending') : 'disabled') as 'ok' | 'pending' | 'disabled';
  };

  app.get('/v1/tenants/:tenantId/keys', { config: { perm: 'read' }, schema: { tags: ['keys'], summary: "List a tenant's API keys.", params: TenantParam, querystring: ListQuery, response: { 200: pageSchema(Key) } } }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    return keyService.list(db, actorOf(req), req.params.tenantId, { cursor: c === undefined ? undefined : String(c), limit: req.query.limit ?? 50, include_revoked: req.query.include_revoked });
  });
  app.post('/v1/tenants/:tenantId/keys', { config: { perm: 'write' }, schema: { tags: ['keys'], summary: 'Create an API key (the secret is returned once).', params: TenantParam, body: KeyCreate, response: { 201: KeyWithSecret } } }, async (req, reply) =>
    idempotent(
      req,
      reply,
      db,
      async () => {
        const { row, secret } = await keyService.create(db, ctx(req), req.params.tenantId, req.body);
        const ok = await keySync.write([row]);
        return { status: 201, body: { key: keyDto(row), secret, delivery: delivery(ok) } };
      },
      (b) => ({ key: b.key, secret_redacted: true, delivery: b.delivery }),
    ),
  );
  app.get('/v1/keys/:id', { config: { perm: 'read' }, schema: { tags: ['keys'], summary: 'Get an API key (never its secret).', params: IdParam, response: { 200: Key } } }, async (req) => keyService.get(db, actorOf(req), req.params.id));
  app.patch('/v1/keys/:id', { config: { perm: 'write' }, schema: { tags: ['keys'], summary: "Change a key's name, scopes or expiry.", params: IdParam, body: KeyPatch, response: { 200: KeyWithDelivery } } }, async (req) => {
    const row = await keyService.update(db, ctx(req), req.params.id, req.body);
    const ok = await keySync.write([row]);
    return { key: keyDto(row), delivery: delivery(ok) };
  });
  app.post('/v1/keys/:id/rotate', { config: { perm: 'write' }, schema: { tags: ['keys'], summary: 'Rotate: a new key in the same lineage; the old one expires after the overlap.', params: IdParam, body: Type.Union([Rotate, Type.Null()], { description: 'Optional (an empty POST rotates with the default overlap).' }), response: { 201: KeyWithSecret } } }, async (req, reply) => {
    const { row, previous, secret } = await keyService.rotate(db, ctx(req), req.params.id, req.body ?? {}, app.deps.config.keyRotationOverlapSeconds);
    const ok = await keySync.write([row, previous]);
    reply.code(201);
    return { key: keyDto(row), previous: keyDto(previous), secret, delivery: delivery(ok) };
  });
  app.post('/v1/keys/:id/revoke', { config: { perm: 'write' }, schema: { tags: ['keys'], summary: 'Revoke a key now (the gateway refuses it within a second).', params: IdParam, response: { 200: KeyWithDelivery } } }, async (req) => {
    const row = await keyService.revoke(db, ctx(req), req.params.id);
    const ok = await keySync.write([row]);
    return { key: keyDto(row), delivery: delivery(ok) };
  });
  app.post(
    '/v1/keys/resync',
    { config: { perm: 'admin' }, schema: { tags: ['keys'], summary: 'Rebuild the Redis key records from Postgres.', response: { 200: Type.Object({ written: Type.Integer(), removed: Type.Integer(), enabled: Type.Boolean() }) } } },
    async (req) => {
      const actor = actorOf(req);
      assertGlobal(actor);
      const r = await keySync.resync();
      await audit(db, { actor, requestId: req.id }, { action: 'keys.resync', entity: 'keys', entityId: '*', after: r });
      return { ...r, enabled: keySync.enabled };
    },
  );
}
