/** Admin tokens: `lgadm_<base58 of 32 random bytes>`, stored as SHA-256 only. */
import { randomBytes } from 'node:crypto';
import { base58 } from '../../../plugins/core/keys';
import { sha256Hex } from '../../../plugins/core/hash';

export const ADMIN_TOKEN_PREFIX = 'lgadm_';
export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function generateAdminToken(): { token: string; hash: string; prefix: string } {
  const token = ADMIN_TOKEN_PREFIX + base58(randomBytes(32));
  return { token, hash: hashAdminToken(token), prefix: token.slice(0, ADMIN_TOKEN_PREFIX.length + 4) };
}

export function hashAdminToken(token: string): string {
  return sha256Hex(token);
}

/** Displayable part of any token (never enough to use). */
export function tokenDisplayPrefix(token: string): string {
  return token.startsWith(ADMIN_TOKEN_PREFIX) ? token.slice(0, ADMIN_TOKEN_PREFIX.length + 4) : `${token.slice(0, 4)}…`;
}

/** Who is calling: resolved from the bearer token. */
export interface Actor {
  tokenId: string;
  name: string;
  role: Role;
  /** Set for tenant-scoped tokens: they see and change only this tenant's objects. */
  tenantId: string | null;
}

export type Permission = 'public' | 'read' | 'write' | 'admin';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };
const NEEDED: Record<Exclude<Permission, 'public'>, number> = { read: 1, write: 2, admin: 3 };

export function roleAllows(role: Role, perm: Permission): boolean {
  if (perm === 'public') return true;
  return RANK[role] >= NEEDED[perm];
}
