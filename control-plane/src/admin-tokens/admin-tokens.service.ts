/**
 * Admin tokens: bearer tokens for this API, hashed at rest, shown once. Roles admin / operator /
 * viewer, optionally scoped to one tenant. A tenant-scoped admin manages only tokens of its own
 * tenant and can never mint an unscoped one.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db';
import { audit, type WriteCtx } from '../audit/audit.service';
import { assertTenantVisible } from '../auth/scope';
import { generateAdminToken, type Actor, type Role } from '../auth/tokens';
import { badRequest, notFound } from '../errors';
import { iso } from '../lib/dto';
import { page } from '../lib/pagination';
import { tenantRepo } from '../tenants/tenants.repository';
import { adminTokenRepo } from './admin-tokens.repository';

type Row = NonNullable<Awaited<ReturnType<typeof adminTokenRepo.get>>>;

export const adminTokenDto = (r: Row) => ({
  id: r.id,
  name: r.name,
  role: r.role,
  tenant_id: r.tenant_id,
  prefix: r.prefix,
  expires_at: iso(r.expires_at),
  revoked_at: iso(r.revoked_at),
  last_used_at: iso(r.last_used_at),
  created_at: iso(r.created_at) as string,
});

async function visible(db: Db, actor: Actor, id: string): Promise<Row> {
  const r = await adminTokenRepo.get(db, id);
  if (!r) throw notFound('admin token');
  // A scoped admin sees only tokens of its tenant (never unscoped ones).
  if (actor.tenantId !== null && r.tenant_id !== actor.tenantId) throw notFound('admin token');
  return r;
}

export const adminTokenService = {
  async list(db: Db, actor: Actor, q: { cursor?: string; limit: number }) {
    const rows = await adminTokenRepo.list(db, { tenantId: actor.tenantId, after: q.cursor, limit: q.limit });
    const p = page(rows, q.limit, (r) => r.id);
    return { data: p.data.map(adminTokenDto), next_cursor: p.next_cursor };
  },
  get: async (db: Db, actor: Actor, id: string) => adminTokenDto(await visible(db, actor, id)),
  async create(db: Db, ctx: WriteCtx, input: { name: string; role: Role; tenant_id?: string | null; expires_at?: string | null }) {
    let tenantId = input.tenant_id ?? null;
    if (ctx.actor.tenantId !== null) {
      if (tenantId === null) tenantId = ctx.actor.tenantId;
      assertTenantVisible(ctx.actor, tenantId, 'tenant');
    }
    let expiresAt: Date | null = null;
    if (input.expires_at) {
      expiresAt = new Date(input.expires_at);
      if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now()) throw badRequest('body.expires_at: must be a future date-time');
    }
    return db.transaction().execute(async (trx) => {
      if (tenantId !== null && !(await tenantRepo.get(trx, tenantId))) throw notFound('tenant');
      const t = generateAdminToken();
      const row = await adminTokenRepo.insert(trx, { id: uuidv7(), name: input.name, role: input.role, tenant_id: tenantId, prefix: t.prefix, hash: t.hash, expires_at: expiresAt });
      const dto = adminTokenDto(row);
      await audit(trx, ctx, { action: 'admin_token.create', entity: 'admin_token', entityId: row.id, tenantId, after: dto });
      return { dto, secret: t.token };
    });
  },
  async revoke(db: Db, ctx: WriteCtx, id: string) {
    return db.transaction().execute(async (trx) => {
      const before = await visible(trx, ctx.actor, id);
      if (before.revoked_at) return adminTokenDto(before);
      const row = await adminTokenRepo.revoke(trx, id);
      const dto = adminTokenDto(row);
      await audit(trx, ctx, { action: 'admin_token.revoke', entity: 'admin_token', entityId: id, tenantId: row.tenant_id, before: adminTokenDto(before), after: dto });
      return dto;
    });
  },
};
