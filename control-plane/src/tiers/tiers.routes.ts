import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { idempotent } from '../lib/idempotency';
import { decodeCursor, PageQuery, pageSchema } from '../lib/pagination';
import { SLUG, Timestamp } from '../lib/dto';
import { BudgetsSchema, InputSchema, LimitsSchema, ListOfNames, OpenObject } from '../lib/limits-schemas';
import { tierService } from './tiers.service';

const Tier = Type.Object({
  name: Type.String(),
  description: Type.String(),
  limits: OpenObject,
  budgets: OpenObject,
  input: OpenObject,
  models: Type.Array(Type.String()),
  features: Type.Array(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const fields = {
  description: Type.Optional(Type.String({ maxLength: 500 })),
  limits: Type.Optional(LimitsSchema),
  budgets: Type.Optional(BudgetsSchema),
  input: Type.Optional(InputSchema),
  models: Type.Optional(ListOfNames('Allowed models (exact or glob).')),
  features: Type.Optional(ListOfNames('Allowed features.')),
};
const TierCreate = Type.Object({ name: Type.String({ pattern: SLUG, description: 'Tier name (lowercase slug), immutable.' }), ...fields }, { additionalProperties: false });
const TierPatch = Type.Object(fields, { additionalProperties: false, minProperties: 1 });
const NameParam = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export function tierRoutes(app: AppInstance): void {
  const { db } = app.deps;
  const ctx = (req: Parameters<typeof actorOf>[0]) => ({ actor: actorOf(req), requestId: req.id });

  app.get('/v1/tiers', { config: { perm: 'read' }, schema: { tags: ['tiers'], summary: 'List tiers.', querystring: PageQuery, response: { 200: pageSchema(Tier) } } }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    return tierService.list(db, c === undefined ? undefined : String(c), req.query.limit ?? 50);
  });
  app.get('/v1/tiers/:name', { config: { perm: 'read' }, schema: { tags: ['tiers'], summary: 'Get a tier.', params: NameParam, response: { 200: Tier } } }, async (req) => tierService.get(db, req.params.name));
  app.post('/v1/tiers', { config: { perm: 'write' }, schema: { tags: ['tiers'], summary: 'Create a tier (pushes the gateway config).', body: TierCreate, response: { 201: Tier } } }, async (req, reply) =>
    idempotent(req, reply, db, async () => {
      const body = await tierService.create(db, ctx(req), req.body);
      app.deps.delivery.schedulePush(`tier ${body.name} created`);
      return { status: 201, body };
    }),
  );
  app.patch('/v1/tiers/:name', { config: { perm: 'write' }, schema: { tags: ['tiers'], summary: 'Update a tier (pushes the gateway config).', params: NameParam, body: TierPatch, response: { 200: Tier } } }, async (req) => {
    const body = await tierService.update(db, ctx(req), req.params.name, req.body);
    app.deps.delivery.schedulePush(`tier ${body.name} updated`);
    return body;
  });
  app.delete('/v1/tiers/:name', { config: { perm: 'write' }, schema: { tags: ['tiers'], summary: 'Delete an unused tier.', params: NameParam, response: { 204: Type.Null() } } }, async (req, reply) => {
    await tierService.remove(db, ctx(req), req.params.name);
    app.deps.delivery.schedulePush(`tier ${req.params.name} deleted`);
    return reply.code(204).send(null);
  });
}
