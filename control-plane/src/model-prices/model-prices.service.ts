/** Model prices (USD per 1M tokens), rendered into llm-cost-quota's config. */
import type { Db } from '../db';
import { audit, type WriteCtx } from '../audit/audit.service';
import { assertGlobal } from '../auth/scope';
import { conflict, notFound } from '../errors';
import { iso } from '../lib/dto';
import { page } from '../lib/pagination';
import { priceRepo } from './model-prices.repository';

type Row = NonNullable<Awaited<ReturnType<typeof priceRepo.get>>>;
export interface PriceInput {
  model?: string;
  input_per_m_usd?: number;
  output_per_m_usd?: number;
  cached_input_per_m_usd?: number | null;
  aliases?: string[];
}

export const priceDto = (r: Row) => ({
  model: r.model,
  input_per_m_usd: Number(r.input_per_m_usd),
  output_per_m_usd: Number(r.output_per_m_usd),
  cached_input_per_m_usd: r.cached_input_per_m_usd === null ? null : Number(r.cached_input_per_m_usd),
  aliases: r.aliases,
  created_at: iso(r.created_at) as string,
  updated_at: iso(r.updated_at) as string,
});

export const priceService = {
  async list(db: Db, cursor: string | undefined, limit: number) {
    const rows = await priceRepo.list(db, cursor, limit);
    const p = page(rows, limit, (r) => r.model);
    return { data: p.data.map(priceDto), next_cursor: p.next_cursor };
  },
  async get(db: Db, model: string) {
    const r = await priceRepo.get(db, model);
    if (!r) throw notFound('model price');
    return priceDto(r);
  },
  async create(db: Db, ctx: WriteCtx, input: PriceInput & { model: string; input_per_m_usd: number; output_per_m_usd: number }) {
    assertGlobal(ctx.actor);
    return db.transaction().execute(async (trx) => {
      if (await priceRepo.get(trx, input.model)) throw conflict(`a price for ${input.model} already exists`);
      const row = await priceRepo.insert(trx, {
        model: input.model,
        input_per_m_usd: input.input_per_m_usd,
        output_per_m_usd: input.output_per_m_usd,
        cached_input_per_m_usd: input.cached_input_per_m_usd ?? null,
        aliases: JSON.stringify(input.aliases ?? []),
      });
      const dto = priceDto(row);
      await audit(trx, ctx, { action: 'model_price.create', entity: 'model_price', entityId: row.model, after: dto });
      return dto;
    });
  },
  async update(db: Db, ctx: WriteCtx, model: string, input: PriceInput) {
    assertGlobal(ctx.actor);
    return db.transaction().execute(async (trx) => {
      const before = await priceRepo.get(trx, model);
      if (!before) throw notFound('model price');
      const set: Record<string, unknown> = {};
      for (const k of ['input_per_m_usd', 'output_per_m_usd', 'cached_input_per_m_usd'] as const) if (input[k] !== undefined) set[k] = input[k];
      if (input.aliases !== undefined) set.aliases = JSON.stringify(input.aliases);
      const row = await priceRepo.update(trx, model, set);
      const dto = priceDto(row);
      await audit(trx, ctx, { action: 'model_price.update', entity: 'model_price', entityId: model, before: priceDto(before), after: dto });
      return dto;
    });
  },
  async remove(db: Db, ctx: WriteCtx, model: string) {
    assertGlobal(ctx.actor);
    await db.transaction().execute(async (trx) => {
      const before = await priceRepo.get(trx, model);
      if (!before) throw notFound('model price');
      await priceRepo.remove(trx, model);
      await audit(trx, ctx, { action: 'model_price.delete', entity: 'model_price', entityId: model, before: priceDto(before) });
    });
  },
};
