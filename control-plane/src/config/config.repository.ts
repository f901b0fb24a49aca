import type { Db } from '../db';

export const configRepo = {
  latest: (db: Db) => db.selectFrom('config_versions').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst(),
  latestApplied: (db: Db) =>
    db.selectFrom('config_versions').selectAll().where('push_status', 'in', ['applied', 'unchanged']).orderBy('version', 'desc').limit(1).executeTakeFirst(),
  get: (db: Db, version: number) => db.selectFrom('config_versions').selectAll().where('version', '=', version).executeTakeFirst(),
  list: (db: Db, before: number | undefined, limit: number) => {
    let q = db
      .selectFrom('config_versions')
      .select(['version', 'created_at', 'hash', 'reason', 'created_by', 'push_status', 'push_error', 'pushed_at'])
      .orderBy('version', 'desc')
      .limit(limit + 1);
    if (before !== undefined) q = q.where('version', '<', before);
    return q.execute();
  },
  insert: (db: Db, row: { hash: string; config: string; reason: string; created_by: string }) =>
    db.insertInto('config_versions').values(row).returning(['version']).executeTakeFirstOrThrow(),
  setStatus: (db: Db, version: number, status: string, error: string | null) =>
    db
      .updateTable('config_versions')
      .set({ push_status: status, push_error: error, ...(status === 'applied' || status === 'unchanged' ? { pushed_at: new Date() } : {}) })
      .where('version', '=', version)
      .execute(),
};
