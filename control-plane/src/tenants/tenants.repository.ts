import type { Db } from '../db';

type TenantWrite = {
  name: string;
  tier: string;
  timezone: string;
  disabled: boolean;
  limits: string;
  budgets: string;
  input: string;
  models: string | null;
  features: string | null;
  consumers: string;
};

export const tenantRepo = {
  list: (db: Db, opts: { onlyTenant: string | null; after?: string; limit: number; tier?: string }) => {
    let q = db.selectFrom('tenants').selectAll().orderBy('id').limit(opts.limit + 1);
    if (opts.onlyTenant !== null) q = q.where('id', '=', opts.onlyTenant);
    if (opts.after !== undefined) q = q.where('id', '>', opts.after);
    if (opts.tier !== undefined) q = q.where('tier', '=', opts.tier);
    return q.execute();
  },
  all: (db: Db) => db.selectFrom('tenants').selectAll().orderBy('id').execute(),
  get: (db: Db, id: string) => db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst(),
  getForUpdate: (db: Db, id: string) => db.selectFrom('tenants').selectAll().where('id', '=', id).forUpdate().executeTakeFirst(),
  insert: (db: Db, row: TenantWrite & { id: string }) => db.insertInto('tenants').values(row).returningAll().executeTakeFirstOrThrow(),
  update: (db: Db, id: string, set: Partial<TenantWrite>) =>
    db.updateTable('tenants').set({ ...set, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow(),
  remove: (db: Db, id: string) => db.deleteFrom('tenants').where('id', '=', id).execute(),
  keyHashes: async (db: Db, id: string) => (await db.selectFrom('api_keys').select('hash').where('tenant_id', '=', id).execute()).map((r) => r.hash),
};
