import type { Db } from '../db';

export const keyRepo = {
  listByTenant: (db: Db, tenantId: string, opts: { after?: string; limit: number; includeRevoked: boolean }) => {
    let q = db.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('id').limit(opts.limit + 1);
    if (opts.after !== undefined) q = q.where('id', '>', opts.after);
    if (!opts.includeRevoked) q = q.where('revoked_at', 'is', null);
    return q.execute();
  },
  all: (db: Db) => db.selectFrom('api_keys').selectAll().execute(),
  activeAt: (db: Db, now: Date) =>
    db
      .selectFrom('api_keys')
      .selectAll()
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('id')
      .execute(),
  get: (db: Db, id: string) => db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst(),
  getForUpdate: (db: Db, id: string) => db.selectFrom('api_keys').selectAll().where('id', '=', id).forUpdate().executeTakeFirst(),
  insert: (
    db: Db,
    row: { id: string; tenant_id: string; lineage_id: string; name: string; prefix: string; hash: string; scopes: string | null; expires_at: Date | null; rotated_from: string | null },
  ) => db.insertInto('api_keys').values(row).returningAll().executeTakeFirstOrThrow(),
  update: (db: Db, id: string, set: Partial<{ name: string; scopes: string | null; expires_at: Date | null; revoked_at: Date | null; rotated_to: string | null }>) =>
    db.updateTable('api_keys').set(set).where('id', '=', id).returningAll().executeTakeFirstOrThrow(),
  touchLastUsed: (db: Db, id: string, at: Date) =>
    db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)])).execute(),
};
