/**
 * Tiers: presets of limits, budgets (USD), input limits, allowed models and features. Their shape
 * is llm-auth's `tiers` element (plugins/core/tenancy.ts TIER_FIELD) and every write is checked
 * against it, so what is stored always renders into a valid gateway config.
 */
import type { Db } from '../db';
import { TIER_FIELD, type TierConfig } from '../../../plugins/core/tenancy';
import { flattenFieldErrors, validateKongConfig, type KongField } from '../../../plugins/core/schema';
import { audit, type WriteCtx } from '../audit/audit.service';
import { badRequest, conflict, notFound } from '../errors';
import { assertGlobal } from '../auth/scope';
import { compact, iso } from '../lib/dto';
import { page } from '../lib/pagination';
import { tierRepo } from './tiers.repository';

type TierRow = NonNullable<Awaited<ReturnType<typeof tierRepo.get>>>;

export interface TierInput {
  name?: string;
  description?: string;
  limits?: Record<string, unknown>;
  budgets?: Record<string, unknown>;
  input?: Record<string, unknown>;
  models?: string[];
  features?: string[];
}

export function tierDto(r: TierRow) {
  return {
    name: r.name,
    description: r.description,
    limits: r.limits,
    budgets: r.budgets,
    input: r.input,
    models: r.models,
    features: r.features,
    created_at: iso(r.created_at) as string,
    updated_at: iso(r.updated_at) as string,
  };
}

/** The element llm-auth's `tiers` array receives. */
export function tierToConfig(r: Pick<TierRow, 'name' | 'limits' | 'budgets' | 'input' | 'models' | 'features'>): TierConfig {
  return compact({ name: r.name, limits: r.limits, budgets: r.budgets, input: r.input, models: r.models, features: r.features }) as TierConfig;
}

export function checkAgainstGatewaySchema(field: KongField, value: unknown, what: string): void {
  const res = validateKongConfig(field.fields ?? [], value);
  if (!res.ok) throw badRequest(`${what} is not valid for the gateway: ${flattenFieldErrors(res.errors).map((l) => `body.${l}`).join('; ')}`);
}

export const tierService = {
  async list(db: Db, cursor: string | undefined, limit: number) {
    const rows = await tierRepo.list(db, cursor, limit);
    const p = page(rows, limit, (r) => r.name);
    return { data: p.data.map(tierDto), next_cursor: p.next_cursor };
  },
  async get(db: Db, name: string) {
    const r = await tierRepo.get(db, name);
    if (!r) throw notFound('tier');
    return tierDto(r);
  },
  async create(db: Db, ctx: WriteCtx, input: TierInput & { name: string }) {
    assertGlobal(ctx.actor);
    const value = { name: input.name, limits: input.limits ?? {}, budgets: input.budgets ?? {}, input: input.input ?? {}, models: input.models ?? ['*'], features: input.features ?? [] };
    checkAgainstGatewaySchema(TIER_FIELD, value, 'tier');
    return db.transaction().execute(async (trx) => {
      if (await tierRepo.get(trx, input.name)) throw conflict(`tier ${input.name} already exists`);
      const row = await tierRepo.insert(trx, {
        name: value.name,
        description: input.description ?? '',
        limits: JSON.stringify(value.limits),
        budgets: JSON.stringify(value.budgets),
        input: JSON.stringify(value.input),
        models: JSON.stringify(value.models),
        features: JSON.stringify(value.features),
      });
      const dto = tierDto(row);
      await audit(trx, ctx, { action: 'tier.create', entity: 'tier', entityId: row.name, after: dto });
      return dto;
    });
  },
  async update(db: Db, ctx: WriteCtx, name: string, input: TierInput) {
    assertGlobal(ctx.actor);
    return db.transaction().execute(async (trx) => {
      const before = await tierRepo.getForUpdate(trx, name);
      if (!before) throw notFound('tier');
      const merged = {
        name,
        limits: input.limits ?? before.limits,
        budgets: input.budgets ?? before.budgets,
        input: input.input ?? before.input,
        models: input.models ?? before.models,
        features: input.features ?? before.features,
      };
      checkAgainstGatewaySchema(TIER_FIELD, merged, 'tier');
      const set: Record<string, string> = {};
      if (input.description !== undefined) set.description = input.description;
      for (const k of ['limits', 'budgets', 'input', 'models', 'features'] as const) if (input[k] !== undefined) set[k] = JSON.stringify(input[k]);
      const row = await tierRepo.update(trx, name, set);
      const dto = tierDto(row);
      await audit(trx, ctx, { action: 'tier.update', entity: 'tier', entityId: name, before: tierDto(before), after: dto });
      return dto;
    });
  },
  async remove(db: Db, ctx: WriteCtx, name: string) {
    assertGlobal(ctx.actor);
    await db.transaction().execute(async (trx) => {
      const before = await tierRepo.getForUpdate(trx, name);
      if (!before) throw notFound('tier');
      const n = await tierRepo.tenantsUsing(trx, name);
      if (n > 0) throw conflict(`tier ${name} is used by ${n} tenant(s)`);
      await tierRepo.remove(trx, name);
      await audit(trx, ctx, { action: 'tier.delete', entity: 'tier', entityId: name, before: tierDto(before) });
    });
  },
};
