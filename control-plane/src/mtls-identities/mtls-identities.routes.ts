import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { idempotent } from '../lib/idempotency';
import { decodeCursor, PageQuery, pageSchema } from '../lib/pagination';
import { Nullable, Timestamp } from '../lib/dto';
import { mtlsService } from './mtls-identities.service';

const Mtls = Type.Object({
  id: Type.String(),
  tenant_id: Type.String(),
  fingerprint_sha256: Nullable(Type.String()),
  subject: Nullable(Type.String()),
  description: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const fields = {
  fingerprint_sha256: Type.Optional(Nullable(Type.String({ minLength: 64, maxLength: 95, description: 'SHA-256 of the DER certificate (hex, colons allowed).' }))),
  subject: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 1000, description: 'Subject DN (e.g. CN=svc,O=team).' }))),
  description: Type.Optional(Type.String({ maxLength: 500 })),
};
const Create = Type.Object({ tenant_id: Type.String({ minLength: 1, maxLength: 128 }), ...fields }, { additionalProperties: false });
const Patch = Type.Object(fields, { additionalProperties: false, minProperties: 1 });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

export function mtlsRoutes(app: AppInstance): void {
  const { db } = app.deps;
  const ctx = (req: Parameters<typeof actorOf>[0]) => ({ actor: actorOf(req), requestId: req.id });
  const tags = ['mtls-identities'];
  app.get('/v1/mtls-identities', { config: { perm: 'read' }, schema: { tags, summary: 'List mTLS identities.', querystring: PageQuery, response: { 200: pageSchema(Mtls) } } }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    return mtlsService.list(db, actorOf(req), { cursor: c === undefined ? undefined : String(c), limit: req.query.limit ?? 50 });
  });
  app.get('/v1/mtls-identities/:id', { config: { perm: 'read' }, schema: { tags, summary: 'Get an mTLS identity.', params: IdParam, response: { 200: Mtls } } }, async (req) => mtlsService.get(db, actorOf(req), req.params.id));
  app.post('/v1/mtls-identities', { config: { perm: 'write' }, schema: { tags, summary: 'Map a client certificate to a tenant.', body: Create, response: { 201: Mtls } } }, async (req, reply) =>
    idempotent(req, reply, db, async () => {
      const body = await mtlsService.create(db, ctx(req), req.body);
      app.deps.delivery.schedulePush('mtls identity created');
      return { status: 201, body };
    }),
  );
  app.patch('/v1/mtls-identities/:id', { config: { perm: 'write' }, schema: { tags, summary: 'Update an mTLS identity.', params: IdParam, body: Patch, response: { 200: Mtls } } }, async (req) => {
    const body = await mtlsService.update(db, ctx(req), req.params.id, req.body);
    app.deps.delivery.schedulePush('mtls identity updated');
    return body;
  });
  app.delete('/v1/mtls-identities/:id', { config: { perm: 'write' }, schema: { tags, summary: 'Delete an mTLS identity.', params: IdParam, response: { 204: Type.Null() } } }, async (req, reply) => {
    await mtlsService.remove(db, ctx(req), req.params.id);
    app.deps.delivery.schedulePush('mtls identity deleted');
    return reply.code(204).send(null);
  });
}
