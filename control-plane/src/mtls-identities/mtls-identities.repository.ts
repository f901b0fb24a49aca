import type { Db } from '../db';

type Write = { tenant_id: string; fingerprint_sha256: string | null; subject: string | null; description: string };

export const mtlsRepo = {
  list: (db: Db, opts: { tenantId: string | null; after?: string; limit: number }) => {
    let q = db.selectFrom('mtls_identities').selectAll().orderBy('id').limit(opts.limit + 1);
    if (opts.tenantId !== null) q = q.where('tenant_id', '=', opts.tenantId);
    if (opts.after !== undefined) q = q.where('id', '>', opts.after);
    return q.execute();
  },
  all: (db: Db) => db.selectFrom('mtls_identities').selectAll().orderBy('id').execute(),
  get: (db: Db, id: string) => db.selectFrom('mtls_identities').selectAll().where('id', '=', id).executeTakeFirst(),
  insert: (db: Db, row: Write & { id: string }) => db.insertInto('mtls_identities').values(row).returningAll().executeTakeFirstOrThrow(),
  update: (db: Db, id: string, set: Partial<Write>) => db.updateTable('mtls_identities').set({ ...set, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow(),
  remove: (db: Db, id: string) => db.deleteFrom('mtls_identities').where('id', '=', id).execute(),
};
