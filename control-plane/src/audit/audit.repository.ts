import type { Db } from '../db';

export interface AuditEntry {
  request_id: string;
  actor_id: string;
  actor_name: string;
  action: string;
  entity: string;
  entity_id: string;
  tenant_id: string | null;
  before: unknown;
  after: unknown;
}

export async function insertAudit(db: Db, e: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({ ...e, before: e.before === undefined ? null : JSON.stringify(e.before), after: e.after === undefined ? null : JSON.stringify(e.after) })
    .execute();
}

export async function listAudit(db: Db, opts: { tenantId: string | null; entity?: string; entityId?: string; after?: number; limit: number }) {
  let q = db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(opts.limit + 1);
  if (opts.tenantId !== null) q = q.where('tenant_id', '=', opts.tenantId);
  if (opts.entity) q = q.where('entity', '=', opts.entity);
  if (opts.entityId) q = q.where('entity_id', '=', opts.entityId);
  if (opts.after !== undefined) q = q.where('id', '<', opts.after);
  return q.execute();
}
