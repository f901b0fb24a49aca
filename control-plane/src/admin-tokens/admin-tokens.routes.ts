import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { idempotent } from '../lib/idempotency';
import { decodeCursor, PageQuery, pageSchema } from '../lib/pagination';
import { Nullable, NullableTimestamp, Timestamp } from '../lib/dto';
import { adminTokenService } from './admin-tokens.service';

const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('operator'), Type.Literal('viewer')]);
const AdminToken = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  tenant_id: Nullable(Type.String()),
  prefix: Type.String(),
  expires_at: NullableTimestamp,
  revoked_at: NullableTimestamp,
  last_used_at: NullableTimestamp,
  created_at: Timestamp,
});
const Created = Type.Object({
  token: AdminToken,
  secret: Type.Optional(Type.String({ description: 'The bearer token. Shown once; never stored.' })),
  secret_redacted: Type.Optional(Type.Boolean()),
});
const Create = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: RoleSchema,
    tenant_id: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 128, description: 'Scope the token to one tenant.' }))),
    expires_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  },
  { additionalProperties: false },
);
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

export function adminTokenRoutes(app: AppInstance): void {
  const { db } = app.deps;
  const tags = ['admin-tokens'];
  app.get('/v1/admin-tokens', { config: { perm: 'admin' }, schema: { tags, summary: 'List admin tokens.', querystring: PageQuery, response: { 200: pageSchema(AdminToken) } } }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    return adminTokenService.list(db, actorOf(req), { cursor: c === undefined ? undefined : String(c), limit: req.query.limit ?? 50 });
  });
  app.get('/v1/admin-tokens/:id', { config: { perm: 'admin' }, schema: { tags, summary: 'Get an admin token (never its secret).', params: IdParam, response: { 200: AdminToken } } }, async (req) =>
    adminTokenService.get(db, actorOf(req), req.params.id),
  );
  app.post('/v1/admin-tokens', { config: { perm: 'admin' }, schema: { tags, summary: 'Create an admin token (returned once).', body: Create, response: { 201: Created } } }, async (req, reply) =>
    idempotent(
      req,
      reply,
      db,
      async () => {
        const { dto, secret } = await adminTokenService.create(db, { actor: actorOf(req), requestId: req.id }, req.body);
        return { status: 201, body: { token: dto, secret } };
      },
      (b) => ({ token: b.token, secret_redacted: true }),
    ),
  );
  app.delete('/v1/admin-tokens/:id', { config: { perm: 'admin' }, schema: { tags, summary: 'Revoke an admin token.', params: IdParam, response: { 200: AdminToken } } }, async (req) =>
    adminTokenService.revoke(db, { actor: actorOf(req), requestId: req.id }, req.params.id),
  );
}
