import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { idempotent } from '../lib/idempotency';
import { decodeCursor, pageSchema } from '../lib/pagination';
import { Nullable, SLUG, Timestamp } from '../lib/dto';
import { BudgetsSchema, InputSchema, LimitsSchema, ListOfNames, OpenObject } from '../lib/limits-schemas';
import { tenantService } from './tenants.service';

const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tier: Type.String(),
  timezone: Type.String(),
  disabled: Type.Boolean(),
  limits: OpenObject,
  budgets: OpenObject,
  input: OpenObject,
  models: Nullable(Type.Array(Type.String())),
  features: Nullable(Type.Array(Type.String())),
  consumers: Type.Array(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  tier: Type.String({ minLength: 1, maxLength: 64, description: 'Tier name.' }),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA timezone for calendar budgets (default UTC).' })),
  disabled: Type.Optional(Type.Boolean({ description: 'A disabled tenant is refused at the gateway.' })),
  limits: Type.Optional(LimitsSchema),
  budgets: Type.Optional(BudgetsSchema),
  input: Type.Optional(InputSchema),
  models: Type.Optional(Nullable(ListOfNames('Replaces the tier model list when set; null = use the tier.'))),
  features: Type.Optional(Nullable(ListOfNames('Replaces the tier feature list when set; null = use the tier.'))),
  consumers: Type.Optional(ListOfNames('Kong consumer usernames or custom_ids that act as this tenant.')),
};
const TenantCreate = Type.Object(
  { id: Type.Optional(Type.String({ pattern: SLUG, description: 'Tenant id (lowercase slug); generated when absent.' })), ...fields },
  { additionalProperties: false },
);
const TenantPatch = Type.Object(
  { ...fields, name: Type.Optional(fields.name), tier: Type.Optional(fields.tier) },
  { additionalProperties: false, minProperties: 1 },
);
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });
const ListQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    tier: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export function tenantRoutes(app: AppInstance): void {
  const { db } = app.deps;
  const ctx = (req: Parameters<typeof actorOf>[0]) => ({ actor: actorOf(req), requestId: req.id });

  app.get('/v1/tenants', { config: { perm: 'read' }, schema: { tags: ['tenants'], summary: 'List tenants (a tenant-scoped token sees its own).', querystring: ListQuery, response: { 200: pageSchema(Tenant) } } }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    return tenantService.list(db, actorOf(req), { cursor: c === undefined ? undefined : String(c), limit: req.query.limit ?? 50, tier: req.query.tier });
  });
  app.get('/v1/tenants/:id', { config: { perm: 'read' }, schema: { tags: ['tenants'], summary: 'Get a tenant.', params: IdParam, response: { 200: Tenant } } }, async (req) => tenantService.get(db, actorOf(req), req.params.id));
  app.post('/v1/tenants', { config: { perm: 'write' }, schema: { tags: ['tenants'], summary: 'Create a tenant (pushes the gateway config).', body: TenantCreate, response: { 201: Tenant } } }, async (req, reply) =>
    idempotent(req, reply, db, async () => {
      const body = await tenantService.create(db, ctx(req), req.body);
      app.deps.delivery.schedulePush(`tenant ${body.id} created`);
      return { status: 201, body };
    }),
  );
  app.patch('/v1/tenants/:id', { config: { perm: 'write' }, schema: { tags: ['tenants'], summary: 'Update a tenant (pushes the gateway config).', params: IdParam, body: TenantPatch, response: { 200: Tenant } } }, async (req) => {
    const body = await tenantService.update(db, ctx(req), req.params.id, req.body);
    app.deps.delivery.schedulePush(`tenant ${body.id} updated`);
    return body;
  });
  app.delete('/v1/tenants/:id', { config: { perm: 'write' }, schema: { tags: ['tenants'], summary: 'Delete a tenant and revoke its keys.', params: IdParam, response: { 204: Type.Null() } } }, async (req, reply) => {
    const hashes = await tenantService.remove(db, ctx(req), req.params.id);
    await app.deps.keySync.revokeHashes(hashes);
    app.deps.delivery.schedulePush(`tenant ${req.params.id} deleted`);
    return reply.code(204).send(null);
  });
}
