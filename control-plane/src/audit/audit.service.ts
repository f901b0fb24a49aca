/**
 * Every write is audited in the same transaction as the write: who (token id + name), what
 * (action, entity, id, tenant), before/after. Secrets never reach the log: fields that hold key
 * or token material are removed before the entry is written.
 */
import type { Db } from '../db';
import type { Actor } from '../auth/tokens';
import { insertAudit, listAudit } from './audit.repository';

const SECRET_FIELDS = new Set(['hash', 'secret', 'token', 'key', 'password', 'client_secret']);

export function scrub(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrub);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!SECRET_FIELDS.has(k)) out[k] = scrub(v);
    return out;
  }
  return value;
}

export interface WriteCtx {
  actor: Actor;
  requestId: string;
}

export async function audit(
  db: Db,
  ctx: WriteCtx,
  e: { action: string; entity: string; entityId: string; tenantId?: string | null; before?: unknown; after?: unknown },
): Promise<void> {
  await insertAudit(db, {
    request_id: ctx.requestId,
    actor_id: ctx.actor.tokenId,
    actor_name: ctx.actor.name,
    action: e.action,
    entity: e.entity,
    entity_id: e.entityId,
    tenant_id: e.tenantId ?? null,
    before: e.before === undefined ? null : scrub(e.before),
    after: e.after === undefined ? null : scrub(e.after),
  });
}

export async function auditPage(db: Db, actor: Actor, q: { entity?: string; entity_id?: string; after?: number; limit: number }) {
  const rows = await listAudit(db, { tenantId: actor.tenantId, entity: q.entity, entityId: q.entity_id, after: q.after, limit: q.limit });
  return rows.map((r) => ({ ...r, ts: r.ts.toISOString() }));
}
