import type { Db } from '../db';

export const tierRepo = {
  list: (db: Db, after: string | undefined, limit: number) => {
    let q = db.selectFrom('tiers').selectAll().orderBy('name').limit(limit + 1);
    if (after !== undefined) q = q.where('name', '>', after);
    return q.execute();
  },
  all: (db: Db) => db.selectFrom('tiers').selectAll().orderBy('name').execute(),
  get: (db: Db, name: string) => db.selectFrom('tiers').selectAll().where('name', '=', name).executeTakeFirst(),
  getForUpdate: (db: Db, name: string) => db.selectFrom('tiers').selectAll().where('name', '=', name).forUpdate().executeTakeFirst(),
  insert: (db: Db, row: { name: string; description: string; limits: string; budgets: string; input: string; models: string; features: string }) =>
    db.insertInto('tiers').values(row).returningAll().executeTakeFirstOrThrow(),
  update: (db: Db, name: string, set: Partial<{ description: string; limits: string; budgets: string; input: string; models: string; features: string }>) =>
    db.updateTable('tiers').set({ ...set, updated_at: new Date() }).where('name', '=', name).returningAll().executeTakeFirstOrThrow(),
  remove: (db: Db, name: string) => db.deleteFrom('tiers').where('name', '=', name).execute(),
  tenantsUsing: async (db: Db, name: string) =>
    Number((await db.selectFrom('tenants').select((eb) => eb.fn.countAll<number>().as('n')).where('tier', '=', name).executeTakeFirstOrThrow()).n),
};
