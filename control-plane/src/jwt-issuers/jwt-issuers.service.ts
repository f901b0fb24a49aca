/**
 * JWT / OAuth issuers trusted for one tenant: issuer, audiences, pinned algorithms (never taken
 * from the token), keys from a JWKS URL or a PEM public key, claim names mapped to tenant
 * attributes. Shared secrets (HS*) are not stored here: they belong in a Kong vault reference.
 * Rendered into llm-auth `jwt_issuers` with the tenant as `default_tenant`. An issuer may assert
 * any tenant through its tenant claim, so only unscoped tokens may add or change issuers;
 * tenant-scoped tokens can read their tenant's issuers.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db';
import { audit, type WriteCtx } from '../audit/audit.service';
import { assertGlobal, assertTenantVisible } from '../auth/scope';
import type { Actor } from '../auth/tokens';
import { badRequest, notFound } from '../errors';
import { iso } from '../lib/dto';
import { page } from '../lib/pagination';
import { tenantRepo } from '../tenants/tenants.repository';
import { jwtIssuerRepo } from './jwt-issuers.repository';

type Row = NonNullable<Awaited<ReturnType<typeof jwtIssuerRepo.get>>>;
export interface JwtIssuerInput {
  tenant_id?: string;
  issuer?: string;
  audiences?: string[];
  algorithms?: string[];
  jwks_url?: string | null;
  public_key_pem?: string | null;
  claims?: Record<string, string>;
}

export const jwtIssuerDto = (r: Row) => ({
  id: r.id,
  tenant_id: r.tenant_id,
  issuer: r.issuer,
  audiences: r.audiences,
  algorithms: r.algorithms,
  jwks_url: r.jwks_url,
  public_key_pem: r.public_key_pem,
  claims: r.claims,
  created_at: iso(r.created_at) as string,
  updated_at: iso(r.updated_at) as string,
});

function checkKeys(v: { jwks_url?: string | null; public_key_pem?: string | null }): void {
  const n = (v.jwks_url ? 1 : 0) + (v.public_key_pem ? 1 : 0);
  if (n !== 1) throw badRequest('body.jwks_url: exactly one of jwks_url or public_key_pem is required');
  if (v.public_key_pem && !/^-----BEGIN (PUBLIC KEY|CERTIFICATE)-----[\s\S]+-----END (PUBLIC KEY|CERTIFICATE)-----\s*$/.test(v.public_key_pem)) {
    throw badRequest('body.public_key_pem: expected a PEM public key or certificate');
  }
}

async function visible(db: Db, actor: Actor, id: string): Promise<Row> {
  const r = await jwtIssuerRepo.get(db, id);
  if (!r) throw notFound('JWT issuer');
  assertTenantVisible(actor, r.tenant_id, 'JWT issuer');
  return r;
}

export const jwtIssuerService = {
  async list(db: Db, actor: Actor, q: { cursor?: string; limit: number }) {
    const rows = await jwtIssuerRepo.list(db, { tenantId: actor.tenantId, after: q.cursor, limit: q.limit });
    const p = page(rows, q.limit, (r) => r.id);
    return { data: p.data.map(jwtIssuerDto), next_cursor: p.next_cursor };
  },
  get: async (db: Db, actor: Actor, id: string) => jwtIssuerDto(await visible(db, actor, id)),
  async create(db: Db, ctx: WriteCtx, input: JwtIssuerInput & { tenant_id: string; issuer: string; algorithms: string[] }) {
    assertTenantVisible(ctx.actor, input.tenant_id, 'tenant');
    assertGlobal(ctx.actor);
    checkKeys(input);
    return db.transaction().execute(async (trx) => {
      if (!(await tenantRepo.get(trx, input.tenant_id))) throw notFound('tenant');
      const row = await jwtIssuerRepo.insert(trx, {
        id: uuidv7(),
        tenant_id: input.tenant_id,
        issuer: input.issuer,
        audiences: JSON.stringify(input.audiences ?? []),
        algorithms: JSON.stringify(input.algorithms),
        jwks_url: input.jwks_url ?? null,
        public_key_pem: input.public_key_pem ?? null,
        claims: JSON.stringify(input.claims ?? {}),
      });
      const dto = jwtIssuerDto(row);
      await audit(trx, ctx, { action: 'jwt_issuer.create', entity: 'jwt_issuer', entityId: row.id, tenantId: row.tenant_id, after: dto });
      return dto;
    });
  },
  async update(db: Db, ctx: WriteCtx, id: string, input: JwtIssuerInput) {
    return db.transaction().execute(async (trx) => {
      const before = await visible(trx, ctx.actor, id);
      assertGlobal(ctx.actor);
      const merged = { jwks_url: input.jwks_url !== undefined ? input.jwks_url : before.jwks_url, public_key_pem: input.public_key_pem !== undefined ? input.public_key_pem : before.public_key_pem };
      checkKeys(merged);
      const set: Record<string, unknown> = {};
      if (input.issuer !== undefined) set.issuer = input.issuer;
      if (input.audiences !== undefined) set.audiences = JSON.stringify(input.audiences);
      if (input.algorithms !== undefined) set.algorithms = JSON.stringify(input.algorithms);
      if (input.claims !== undefined) set.claims = JSON.stringify(input.claims);
      if (input.jwks_url !== undefined) set.jwks_url = input.jwks_url;
      if (input.public_key_pem !== undefined) set.public_key_pem = input.public_key_pem;
      const row = await jwtIssuerRepo.update(trx, id, set);
      const dto = jwtIssuerDto(row);
      await audit(trx, ctx, { action: 'jwt_issuer.update', entity: 'jwt_issuer', entityId: id, tenantId: row.tenant_id, before: jwtIssuerDto(before), after: dto });
      return dto;
    });
  },
  async remove(db: Db, ctx: WriteCtx, id: string) {
    await db.transaction().execute(async (trx) => {
      const before = await visible(trx, ctx.actor, id);
      assertGlobal(ctx.actor);
      await jwtIssuerRepo.remove(trx, id);
      await audit(trx, ctx, { action: 'jwt_issuer.delete', entity: 'jwt_issuer', entityId: id, tenantId: before.tenant_id, before: jwtIssuerDto(before) });
    });
  },
};
