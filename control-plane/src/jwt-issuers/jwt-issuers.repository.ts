import type { Db } from '../db';

type Write = { tenant_id: string; issuer: string; audiences: string; algorithms: string; jwks_url: string | null; public_key_pem: string | null; claims: string };

export const jwtIssuerRepo = {
  list: (db: Db, opts: { tenantId: string | null; after?: string; limit: number }) => {
    let q = db.selectFrom('jwt_issuers').selectAll().orderBy('id').limit(opts.limit + 1);
    if (opts.tenantId !== null) q = q.where('tenant_id', '=', opts.tenantId);
    if (opts.after !== undefined) q = q.where('id', '>', opts.after);
    return q.execute();
  },
  all: (db: Db) => db.selectFrom('jwt_issuers').selectAll().orderBy('id').execute(),
  get: (db: Db, id: string) => db.selectFrom('jwt_issuers').selectAll().where('id', '=', id).executeTakeFirst(),
  insert: (db: Db, row: Write & { id: string }) => db.insertInto('jwt_issuers').values(row).returningAll().executeTakeFirstOrThrow(),
  update: (db: Db, id: string, set: Partial<Write>) => db.updateTable('jwt_issuers').set({ ...set, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow(),
  remove: (db: Db, id: string) => db.deleteFrom('jwt_issuers').where('id', '=', id).execute(),
};
