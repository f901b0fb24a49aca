import { Type } from '@sinclair/typebox';
import type { AppInstance } from '../app-types';
import { actorOf } from '../auth/auth.hook';
import { idempotent } from '../lib/idempotency';
import { decodeCursor, PageQuery, pageSchema } from '../lib/pagination';
import { Nullable, Timestamp } from '../lib/dto';
import { jwtIssuerService } from './jwt-issuers.service';

export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
const Algorithms = Type.Array(Type.Union(JWT_ALGORITHMS.map((a) => Type.Literal(a))), { minItems: 1, maxItems: 10, description: 'Pinned algorithms (asymmetric only).' });
const Claims = Type.Object(
  {
    tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Claim that must equal the tenant id (optional).' })),
    end_user: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Claim holding the end-user id (HMAC-hashed in events).' })),
    scopes: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Claim holding space-separated scopes.' })),
  },
  { additionalProperties: false },
);
const JwtIssuer = Type.Object({
  id: Type.String(),
  tenant_id: Type.String(),
  issuer: Type.String(),
  audiences: Type.Array(Type.String()),
  algorithms: Type.Array(Type.String()),
  jwks_url: Nullable(Type.String()),
  public_key_pem: Nullable(Type.String()),
  claims: Type.Object({}, { additionalProperties: true }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
const fields = {
  issuer: Type.String({ minLength: 1, maxLength: 500, description: 'Expected `iss`.' }),
  audiences: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 20, description: 'Accepted `aud` values (empty = any).' })),
  algorithms: Algorithms,
  jwks_url: Type.Optional(Nullable(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }))),
  public_key_pem: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 20_000 }))),
  claims: Type.Optional(Claims),
};
const Create = Type.Object({ tenant_id: Type.String({ minLength: 1, maxLength: 128 }), ...fields }, { additionalProperties: false });
const Patch = Type.Object({ ...fields, issuer: Type.Optional(fields.issuer), algorithms: Type.Optional(fields.algorithms) }, { additionalProperties: false, minProperties: 1 });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

export function jwtIssuerRoutes(app: AppInstance): void {
  const { db } = app.deps;
  const ctx = (req: Parameters<typeof actorOf>[0]) => ({ actor: actorOf(req), requestId: req.id });
  const tags = ['jwt-issuers'];
  app.get('/v1/jwt-issuers', { config: { perm: 'read' }, schema: { tags, summary: 'List JWT issuers.', querystring: PageQuery, response: { 200: pageSchema(JwtIssuer) } } }, async (req) => {
    const c = decodeCursor(req.query.cursor);
    return jwtIssuerService.list(db, actorOf(req), { cursor: c === undefined ? undefined : String(c), limit: req.query.limit ?? 50 });
  });
  app.get('/v1/jwt-issuers/:id', { config: { perm: 'read' }, schema: { tags, summary: 'Get a JWT issuer.', params: IdParam, response: { 200: JwtIssuer } } }, async (req) => jwtIssuerService.get(db, actorOf(req), req.params.id));
  app.post('/v1/jwt-issuers', { config: { perm: 'write' }, schema: { tags, summary: 'Trust a JWT issuer for a tenant.', body: Create, response: { 201: JwtIssuer } } }, async (req, reply) =>
    idempotent(req, reply, db, async () => {
      const body = await jwtIssuerService.create(db, ctx(req), req.body);
      app.deps.delivery.schedulePush('jwt issuer created');
      return { status: 201, body };
    }),
  );
  app.patch('/v1/jwt-issuers/:id', { config: { perm: 'write' }, schema: { tags, summary: 'Update a JWT issuer.', params: IdParam, body: Patch, response: { 200: JwtIssuer } } }, async (req) => {
    const body = await jwtIssuerService.update(db, ctx(req), req.params.id, req.body);
    app.deps.delivery.schedulePush('jwt issuer updated');
    return body;
  });
  app.delete('/v1/jwt-issuers/:id', { config: { perm: 'write' }, schema: { tags, summary: 'Delete a JWT issuer.', params: IdParam, response: { 204: Type.Null() } } }, async (req, reply) => {
    await jwtIssuerService.remove(db, ctx(req), req.params.id);
    app.deps.delivery.schedulePush('jwt issuer deleted');
    return reply.code(204).send(null);
  });
}
