/**
 * mTLS identities: a client certificate (SHA-256 fingerprint, or subject DN) mapped to a tenant,
 * rendered into llm-auth `mtls.identities`. A mapping could capture another tenant's certificate
 * subject, so only unscoped tokens may write them; tenant-scoped tokens read their own.
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
import { mtlsRepo } from './mtls-identities.repository';

type Row = NonNullable<Awaited<ReturnType<typeof mtlsRepo.get>>>;
export interface MtlsInput {
  tenant_id?: string;
  fingerprint_sha256?: string | null;
  subject?: string | null;
  description?: string;
}

export const mtlsDto = (r: Row) => ({
  id: r.id,
  tenant_id: r.tenant_id,
  fingerprint_sha256: r.fingerprint_sha256,
  subject: r.subject,
  description: r.description,
  created_at: iso(r.created_at) as string,
  updated_at: iso(r.updated_at) as string,
});

/** `AB:CD:…` or `abcd…` → 64 lowercase hex characters. */
export function normalizeFingerprint(v: string | null | undefined): string | null | undefined {
  if (v === undefined || v === null) return v;
  const hex = v.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw badRequest('body.fingerprint_sha256: expected 64 hexadecimal characters (colons allowed)');
  return hex;
}

function checkOne(v: { fingerprint_sha256?: string | null; subject?: string | null }): void {
  if (!v.fingerprint_sha256 && !v.subject) throw badRequest('body.fingerprint_sha256: one of fingerprint_sha256 or subject is required');
}

async function visible(db: Db, actor: Actor, id: string): Promise<Row> {
  const r = await mtlsRepo.get(db, id);
  if (!r) throw notFound('mTLS identity');
  assertTenantVisible(actor, r.tenant_id, 'mTLS identity');
  return r;
}

export const mtlsService = {
  async list(db: Db, actor: Actor, q: { cursor?: string; limit: number }) {
    const rows = await mtlsRepo.list(db, { tenantId: actor.tenantId, after: q.cursor, limit: q.limit });
    const p = page(rows, q.limit, (r) => r.id);
    return { data: p.data.map(mtlsDto), next_cursor: p.next_cursor };
  },
  get: async (db: Db, actor: Actor, id: string) => mtlsDto(await visible(db, actor, id)),
  async create(db: Db, ctx: WriteCtx, input: MtlsInput & { tenant_id: string }) {
    assertTenantVisible(ctx.actor, input.tenant_id, 'tenant');
    assertGlobal(ctx.actor);
    const fp = normalizeFingerprint(input.fingerprint_sha256) ?? null;
    checkOne({ fingerprint_sha256: fp, subject: input.subject });
    return db.transaction().execute(async (trx) => {
      if (!(await tenantRepo.get(trx, input.tenant_id))) throw notFound('tenant');
      const row = await mtlsRepo.insert(trx, { id: uuidv7(), tenant_id: input.tenant_id, fingerprint_sha256: fp, subject: input.subject ?? null, description: input.description ?? '' });
      const dto = mtlsDto(row);
      await audit(trx, ctx, { action: 'mtls_identity.create', entity: 'mtls_identity', entityId: row.id, tenantId: row.tenant_id, after: dto });
      return dto;
    });
  },
  async update(db: Db, ctx: WriteCtx, id: string, input: MtlsInput) {
    return db.transaction().execute(async (trx) => {
      const before = await visible(trx, ctx.actor, id);
      assertGlobal(ctx.actor);
      const fp = normalizeFingerprint(input.fingerprint_sha256);
      checkOne({ fingerprint_sha256: fp !== undefined ? fp : before.fingerprint_sha256, subject: input.subject !== undefined ? input.subject : before.subject });
      const set: Record<string, unknown> = {};
      if (fp !== undefined) set.fingerprint_sha256 = fp;
      if (input.subject !== undefined) set.subject = input.subject;
      if (input.description !== undefined) set.description = input.description;
      const row = await mtlsRepo.update(trx, id, set);
      const dto = mtlsDto(row);
      await audit(trx, ctx, { action: 'mtls_identity.update', entity: 'mtls_identity', entityId: id, tenantId: row.tenant_id, before: mtlsDto(before), after: dto });
      return dto;
    });
  },
  async remove(db: Db, ctx: WriteCtx, id: string) {
    await db.transaction().execute(async (trx) => {
      const before = await visible(trx, ctx.actor, id);
      assertGlobal(ctx.actor);
      await mtlsRepo.remove(trx, id);
      await audit(trx, ctx, { action: 'mtls_identity.delete', entity: 'mtls_identity', entityId: id, tenantId: before.tenant_id, before: mtlsDto(before) });
    });
  },
};
