import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { idempotent } from '../lib/idempotency';
import { decodeCursor, PageQuery, pageSchema } from '../lib/pagination';
import { Nullable, Timestamp } from '../lib/dto';
import { priceService } from './model-prices.service';

const Usd = (description: string) => Type.Number({ minimum: 0, maximum: 100_000, description });
const Price = Type.Object({
  model: Type.String(),
  input_per_m_usd: Type.Number(),
  output_per_m_usd: Type.Number(),
  cached_input_per_m_usd: Nullable(Type.Number()),
  aliases: Type.Array(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const fields = {
  input_per_m_usd: Usd('USD per 1M input tokens.'),
  output_per_m_usd: Usd('USD per 1M output tokens.'),
  cached_input_per_m_usd: Type.Optional(Nullable(Usd('USD per 1M cached input tokens (default: input price).'))),
  aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100, description: 'Other names (date-suffixed) billed at this price.' })),
};
const Create = Type.Object({ model: Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]*$' }), ...fields }, { additionalProperties: false });
const Patch = Type.Object(
  { ...fields, input_per_m_usd: Type.Optional(fields.input_per_m_usd), output_per_m_usd: Type.Optional(fields.output_per_m_usd) },
  { additionalProperties: false, minProperties: 1 },
);
const ModelParam = Type.Object({ model: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export function priceRoutes(app: AppInstance): void {
  const { db } = app.deps;
  const ctx = (req: Parameters<typeof actorOf>[0]) => ({ actor: actorOf(req), requestId: req.id });
  const tags = ['model-prices'];
  app.get('/v1/model-prices', { config: { perm: 'read' }, schema: { tags, summary: 'List model prices.', querystring: PageQuery, response: { 200: pageSchema(Price) } } }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    return priceService.list(db, c === undefined ? undefined : String(c), req.query.limit ?? 50);
  });
  app.get('/v1/model-prices/:model', { config: { perm: 'read' }, schema: { tags, summary: "Get a model's price.", params: ModelParam, response: { 200: Price } } }, async (req) => priceService.get(db, req.params.model));
  app.post('/v1/model-prices', { config: { perm: 'write' }, schema: { tags, summary: 'Add a model price (pushes the gateway config).', body: Create, response: { 201: Price } } }, async (req, reply) =>
    idempotent(req, reply, db, async () => {
      const body = await priceService.create(db, ctx(req), req.body);
      app.deps.delivery.schedulePush(`price ${body.model} created`);
      return { status: 201, body };
    }),
  );
  app.patch('/v1/model-prices/:model', { config: { perm: 'write' }, schema: { tags, summary: 'Change a model price.', params: ModelParam, body: Patch, response: { 200: Price } } }, async (req) => {
    const body = await priceService.update(db, ctx(req), req.params.model, req.body);
    app.deps.delivery.schedulePush(`price ${body.model} updated`);
    return body;
  });
  app.delete('/v1/model-prices/:model', { config: { perm: 'write' }, schema: { tags, summary: 'Delete a model price.', params: ModelParam, response: { 204: Type.Null() } } }, async (req, reply) => {
    await priceService.remove(db, ctx(req), req.params.model);
    app.deps.delivery.schedulePush(`price ${req.params.model} deleted`);
    return reply.code(204).send(null);
  });
}
