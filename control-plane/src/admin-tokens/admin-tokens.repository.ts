import type { Db } from '../db';

export const adminTokenRepo = {
  list: (db: Db, opts: { tenantId: string | null; after?: string; limit: number }) => {
    let q = db.selectFrom('admin_tokens').selectAll().orderBy('id').limit(opts.limit + 1);
    if (opts.tenantId !== null) q = q.where('tenant_id', '=', opts.tenantId);
    if (opts.after !== undefined) q = q.where('id', '>', opts.after);
    return q.execute();
  },
  get: (db: Db, id: string) => db.selectFrom('admin_tokens').selectAll().where('id', '=', id).executeTakeFirst(),
  insert: (db: Db, row: { id: string; name: string; role: 'admin' | 'operator' | 'viewer'; tenant_id: string | null; prefix: string; hash: string; expires_at: Date | null }) =>
    db.insertInto('admin_tokens').values(row).returningAll().executeTakeFirstOrThrow(),
  revoke: (db: Db, id: string) => db.updateTable('admin_tokens').set({ revoked_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow(),
};
