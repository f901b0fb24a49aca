/**
 * Tenants (a team is a tenant): a tier, overrides of its limits/budgets/input limits, model and
 * feature lists that replace the tier's when set, a timezone for calendar budgets, Kong consumers
 * that act as the tenant. The shape is llm-auth's `tenants` element (TENANT_FIELD).
 */
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db';
import { TENANT_FIELD, TIMEZONES, type TenantConfig } from '../../../plugins/core/tenancy';
import { audit, type WriteCtx } from '../audit/audit.service';
import { assertGlobal, assertTenantVisible } from '../auth/scope';
import type { Actor } from '../auth/tokens';
import { badRequest, conflict, notFound } from '../errors';
import { compact, iso } from '../lib/dto';
import { page } from '../lib/pagination';
import { checkAgainstGatewaySchema } from '../tiers/tiers.service';
import { tierRepo } from '../tiers/tiers.repository';
import { tenantRepo } from './tenants.repository';

type TenantRow = NonNullable<Awaited<ReturnType<typeof tenantRepo.get>>>;
const ZONES = new Set(TIMEZONES);

export interface TenantInput {
  id?: string;
  name?: string;
  tier?: string;
  timezone?: string;
  disabled?: boolean;
  limits?: Record<string, unknown>;
  budgets?: Record<string, unknown>;
  input?: Record<string, unknown>;
  models?: string[] | null;
  features?: string[] | null;
  consumers?: string[];
}

export function tenantDto(r: TenantRow) {
  return {
    id: r.id,
    name: r.name,
    tier: r.tier,
    timezone: r.timezone,
    disabled: r.disabled,
    limits: r.limits,
    budgets: r.budgets,
    input: r.input,
    models: r.models,
    features: r.features,
    consumers: r.consumers,
    created_at: iso(r.created_at) as string,
    updated_at: iso(r.updated_at) as string,
  };
}

/** The element llm-auth's `tenants` array receives. */
export function tenantToConfig(r: Pick<TenantRow, 'id' | 'tier' | 'timezone' | 'disabled' | 'limits' | 'budgets' | 'input' | 'models' | 'features' | 'consumers'>): TenantConfig {
  return compact({
    id: r.id,
    tier: r.tier,
    timezone: r.timezone,
    disabled: r.disabled,
    limits: r.limits,
    budgets: r.budgets,
    input: r.input,
    models: r.models,
    features: r.features,
    consumers: r.consumers,
  }) as TenantConfig;
}

function checkTenant(value: ReturnType<typeof tenantToConfig>): void {
  if (value.timezone !== undefined && !ZONES.has(value.timezone)) throw badRequest('body.timezone: not an IANA timezone');
  checkAgainstGatewaySchema(TENANT_FIELD, value, 'tenant');
}

export const tenantService = {
  async list(db: Db, actor: Actor, q: { cursor?: string; limit: number; tier?: string }) {
    const rows = await tenantRepo.list(db, { onlyTenant: actor.tenantId, after: q.cursor, limit: q.limit, tier: q.tier });
    const p = page(rows, q.limit, (r) => r.id);
    return { data: p.data.map(tenantDto), next_cursor: p.next_cursor };
  },
  async get(db: Db, actor: Actor, id: string) {
    assertTenantVisible(actor, id, 'tenant');
    const r = await tenantRepo.get(db, id);
    if (!r) throw notFound('tenant');
    return tenantDto(r);
  },
  async create(db: Db, ctx: WriteCtx, input: TenantInput & { name: string; tier: string }) {
    assertGlobal(ctx.actor);
    const id = input.id ?? `t_${uuidv7().replace(/-/g, '')}`;
    const row = {
      id,
      name: input.name,
      tier: input.tier,
      timezone: input.timezone ?? 'UTC',
      disabled: input.disabled ?? false,
      limits: input.limits ?? {},
      budgets: input.budgets ?? {},
      input: input.input ?? {},
      models: input.models ?? null,
      features: input.features ?? null,
      consumers: input.consumers ?? [],
    };
    checkTenant(tenantToConfig(row));
    return db.transaction().execute(async (trx) => {
      if (!(await tierRepo.get(trx, row.tier))) throw badRequest('body.tier: unknown tier');
      if (await tenantRepo.get(trx, id)) throw conflict(`tenant ${id} already exists`);
      const inserted = await tenantRepo.insert(trx, {
        ...row,
        limits: JSON.stringify(row.limits),
        budgets: JSON.stringify(row.budgets),
        input: JSON.stringify(row.input),
        models: row.models === null ? null : JSON.stringify(row.models),
        features: row.features === null ? null : JSON.stringify(row.features),
        consumers: JSON.stringify(row.consumers),
      });
      const dto = tenantDto(inserted);
      await audit(trx, ctx, { action: 'tenant.create', entity: 'tenant', entityId: id, tenantId: id, after: dto });
      return dto;
    });
  },
  async update(db: Db, ctx: WriteCtx, id: string, input: TenantInput) {
    assertTenantVisible(ctx.actor, id, 'tenant');
    assertGlobal(ctx.actor);
    return db.transaction().execute(async (trx) => {
      const before = await tenantRepo.getForUpdate(trx, id);
      if (!before) throw notFound('tenant');
      const merged = {
        ...before,
        ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
      } as TenantRow;
      checkTenant(tenantToConfig(merged));
      if (input.tier !== undefined && !(await tierRepo.get(trx, input.tier))) throw badRequest('body.tier: unknown tier');
      const set: Record<string, unknown> = {};
      if (input.name !== undefined) set.name = input.name;
      if (input.tier !== undefined) set.tier = input.tier;
      if (input.timezone !== undefined) set.timezone = input.timezone;
      if (input.disabled !== undefined) set.disabled = input.disabled;
      for (const k of ['limits', 'budgets', 'input', 'consumers'] as const) if (input[k] !== undefined) set[k] = JSON.stringify(input[k]);
      for (const k of ['models', 'features'] as const) if (input[k] !== undefined) set[k] = input[k] === null ? null : JSON.stringify(input[k]);
      const row = await tenantRepo.update(trx, id, set);
      const dto = tenantDto(row);
      await audit(trx, ctx, { action: 'tenant.update', entity: 'tenant', entityId: id, tenantId: id, before: tenantDto(before), after: dto });
      return dto;
    });
  },
  /** Deletes the tenant and its keys; returns the key hashes to revoke at the gateway. */
  async remove(db: Db, ctx: WriteCtx, id: string): Promise<string[]> {
    assertTenantVisible(ctx.actor, id, 'tenant');
    assertGlobal(ctx.actor);
    return db.transaction().execute(async (trx) => {
      const before = await tenantRepo.getForUpdate(trx, id);
      if (!before) throw notFound('tenant');
      const hashes = await tenantRepo.keyHashes(trx, id);
      await tenantRepo.remove(trx, id);
      await audit(trx, ctx, { action: 'tenant.delete', entity: 'tenant', entityId: id, tenantId: id, before: tenantDto(before), after: { keys_revoked: hashes.length } });
      return hashes;
    });
  },
};
