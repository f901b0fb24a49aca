/**
 * API keys: `lg_live_…` secrets (plugins/core/keys.ts), stored as SHA-256 only and shown once.
 * Rotation issues a new key in the same lineage (per-key budgets follow the lineage) and sets
 * the old key's expiry to now + overlap; revocation is immediate. Every change is written to
 * Redis (records + pub/sub) by the caller after the transaction commits.
 */
import { v7 as uuidv7 } from 'uuid';
import { generateApiKey } from '../../../plugins/core/keys';
import type { Db } from '../db';
import { audit, type WriteCtx } from '../audit/audit.service';
import { assertTenantVisible } from '../auth/scope';
import type { Actor } from '../auth/tokens';
import { badRequest, conflict, notFound } from '../errors';
import { iso } from '../lib/dto';
import { page } from '../lib/pagination';
import { tenantRepo } from '../tenants/tenants.repository';
import { keyRepo } from './keys.repository';

export type KeyRow = NonNullable<Awaited<ReturnType<typeof keyRepo.get>>>;

export interface KeyScopes {
  models?: string[];
  features?: string[];
}

export function keyStatus(r: KeyRow, now = Date.now()): 'active' | 'expired' | 'revoked' {
  if (r.revoked_at) return 'revoked';
  if (r.expires_at && r.expires_at.getTime() <= now) return 'expired';
  return 'active';
}

export function keyDto(r: KeyRow) {
  return {
    id: r.id,
    tenant_id: r.tenant_id,
    lineage_id: r.lineage_id,
    name: r.name,
    prefix: r.prefix,
    scopes: r.scopes,
    status: keyStatus(r),
    expires_at: iso(r.expires_at),
    revoked_at: iso(r.revoked_at),
    rotated_from: r.rotated_from,
    rotated_to: r.rotated_to,
    last_used_at: iso(r.last_used_at),
    created_at: iso(r.created_at) as string,
  };
}

function parseFuture(value: string | null | undefined, field: string): Date | null | undefined {
  if (value === undefined || value === null) return value;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw badRequest(`body.${field}: not a date-time`);
  if (d.getTime() <= Date.now()) throw badRequest(`body.${field}: must be in the future`);
  return d;
}

async function visibleKey(db: Db, actor: Actor, id: string, forUpdate = false): Promise<KeyRow> {
  const row = forUpdate ? await keyRepo.getForUpdate(db, id) : await keyRepo.get(db, id);
  if (!row) throw notFound('key');
  assertTenantVisible(actor, row.tenant_id, 'key');
  return row;
}

export const keyService = {
  async list(db: Db, actor: Actor, tenantId: string, q: { cursor?: string; limit: number; include_revoked?: boolean }) {
    assertTenantVisible(actor, tenantId, 'tenant');
    if (!(await tenantRepo.get(db, tenantId))) throw notFound('tenant');
    const rows = await keyRepo.listByTenant(db, tenantId, { after: q.cursor, limit: q.limit, includeRevoked: q.include_revoked ?? false });
    const p = page(rows, q.limit, (r) => r.id);
    return { data: p.data.map(keyDto), next_cursor: p.next_cursor };
  },
  async get(db: Db, actor: Actor, id: string) {
    return keyDto(await visibleKey(db, actor, id));
  },
  async create(db: Db, ctx: WriteCtx, tenantId: string, input: { name?: string; scopes?: KeyScopes; expires_at?: string | null }) {
    assertTenantVisible(ctx.actor, tenantId, 'tenant');
    const expiresAt = parseFuture(input.expires_at, 'expires_at') ?? null;
    return db.transaction().execute(async (trx) => {
      if (!(await tenantRepo.get(trx, tenantId))) throw notFound('tenant');
      const k = generateApiKey();
      const id = uuidv7();
      const row = await keyRepo.insert(trx, {
        id,
        tenant_id: tenantId,
        lineage_id: id,
        name: input.name ?? '',
        prefix: k.prefix,
        hash: k.hash,
        scopes: input.scopes ? JSON.stringify(input.scopes) : null,
        expires_at: expiresAt,
        rotated_from: null,
      });
      await audit(trx, ctx, { action: 'key.create', entity: 'key', entityId: id, tenantId, after: keyDto(row) });
      return { row, secret: k.key };
    });
  },
  async update(db: Db, ctx: WriteCtx, id: string, input: { name?: string; scopes?: KeyScopes | null; expires_at?: string | null }) {
    const expiresAt = parseFuture(input.expires_at, 'expires_at');
    return db.transaction().execute(async (trx) => {
      const before = await visibleKey(trx, ctx.actor, id, true);
      if (before.revoked_at) throw conflict('key is revoked');
      const set: Parameters<typeof keyRepo.update>[2] = {};
      if (input.name !== undefined) set.name = input.name;
      if (input.scopes !== undefined) set.scopes = input.scopes === null ? null : JSON.stringify(input.scopes);
      if (expiresAt !== undefined) set.expires_at = expiresAt;
      const row = await keyRepo.update(trx, id, set);
      await audit(trx, ctx, { action: 'key.update', entity: 'key', entityId: id, tenantId: row.tenant_id, before: keyDto(before), after: keyDto(row) });
      return row;
    });
  },
  async rotate(db: Db, ctx: WriteCtx, id: string, input: { overlap_seconds?: number; expires_at?: string | null }, defaultOverlapSeconds: number) {
    const expiresAt = parseFuture(input.expires_at, 'expires_at');
    return db.transaction().execute(async (trx) => {
      const old = await visibleKey(trx, ctx.actor, id, true);
      if (keyStatus(old) !== 'active') throw conflict(`key is ${keyStatus(old)}`);
      if (old.rotated_to) throw conflict('key was already rotated; rotate its successor');
      const k = generateApiKey();
      const newId = uuidv7();
      const now = Date.now();
      const overlapEnd = new Date(now + (input.overlap_seconds ?? defaultOverlapSeconds) * 1000);
      const oldExpiry = old.expires_at && old.expires_at < overlapEnd ? old.expires_at : overlapEnd;
      const fresh = await keyRepo.insert(trx, {
        id: newId,
        tenant_id: old.tenant_id,
        lineage_id: old.lineage_id,
        name: old.name,
        prefix: k.prefix,
        hash: k.hash,
        scopes: old.scopes ? JSON.stringify(old.scopes) : null,
        expires_at: expiresAt === undefined ? (old.expires_at && old.expires_at > overlapEnd ? old.expires_at : null) : expiresAt,
        rotated_from: old.id,
      });
      const previous = await keyRepo.update(trx, old.id, { expires_at: oldExpiry, rotated_to: newId });
      await audit(trx, ctx, { action: 'key.rotate', entity: 'key', entityId: old.id, tenantId: old.tenant_id, before: keyDto(old), after: { previous: keyDto(previous), new: keyDto(fresh) } });
      return { row: fresh, previous, secret: k.key };
    });
  },
  async revoke(db: Db, ctx: WriteCtx, id: string) {
    return db.transaction().execute(async (trx) => {
      const before = await visibleKey(trx, ctx.actor, id, true);
      if (before.revoked_at) return before; // idempotent
      const row = await keyRepo.update(trx, id, { revoked_at: new Date() });
      await audit(trx, ctx, { action: 'key.revoke', entity: 'key', entityId: id, tenantId: row.tenant_id, before: keyDto(before), after: keyDto(row) });
      return row;
    });
  },
};
