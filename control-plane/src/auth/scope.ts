/**
 * Tenant isolation (OWASP API1): a tenant-scoped token never reads or changes another tenant's
 * objects. Objects of other tenants answer 404 (their existence is not revealed); global objects
 * (tiers, prices, config) are read-only or refused for scoped tokens.
 */
import { AppError, forbidden } from '../errors';
import type { Actor } from './tokens';

/** The object belongs to a tenant the actor may see, else 404 as if it did not exist. */
export function assertTenantVisible(actor: Actor, tenantId: string | null | undefined, what: string): void {
  if (actor.tenantId !== null && actor.tenantId !== tenantId) throw new AppError('not_found', `${what} not found`);
}

/** Refuse tenant-scoped tokens (global objects and operations). */
export function assertGlobal(actor: Actor): void {
  if (actor.tenantId !== null) throw forbidden('a tenant-scoped token cannot do this');
}

/** List filter: the actor's tenant, or any (null) for unscoped tokens. */
export function tenantFilter(actor: Actor): string | null {
  return actor.tenantId;
}
