import type { Db } from '../db';

type Write = { input_per_m_usd: number; output_per_m_usd: number; cached_input_per_m_usd: number | null; aliases: string };

export const priceRepo = {
  list: (db: Db, after: string | undefined, limit: number) => {
    let q = db.selectFrom('model_prices').selectAll().orderBy('model').limit(limit + 1);
    if (after !== undefined) q = q.where('model', '>', after);
    return q.execute();
  },
  all: (db: Db) => db.selectFrom('model_prices').selectAll().orderBy('model').execute(),
  get: (db: Db, model: string) => db.selectFrom('model_prices').selectAll().where('model', '=', model).executeTakeFirst(),
  insert: (db: Db, row: Write & { model: string }) => db.insertInto('model_prices').values(row).returningAll().executeTakeFirstOrThrow(),
  update: (db: Db, model: string, set: Partial<Write>) => db.updateTable('model_prices').set({ ...set, updated_at: new Date() }).where('model', '=', model).returningAll().executeTakeFirstOrThrow(),
  remove: (db: Db, model: string) => db.deleteFrom('model_prices').where('model', '=', model).execute(),
};
