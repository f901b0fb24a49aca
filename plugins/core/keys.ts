/**
 * API keys, Unkey-style: `lg_live_<base58 of 32 random bytes>`; only the SHA-256 is stored.
 * The control plane writes one record per key to Redis and publishes revocations; llm-auth
 * reads the records (cached) and listens on the channel.
 */
import { randomBytes } from 'node:crypto';
import { sha256Hex } from './hash';

export const KEY_PREFIX = 'lg_live_';
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const KEY_SHAPE = /^lg_(live|test)_[1-9A-HJ-NP-Za-km-z]{32,64}$/;

export function base58(bytes: Uint8Array): string {
  let n = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let out = '';
  while (n > 0n) {
    out = (BASE58[Number(n % 58n)] as string) + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = '1' + out;
  }
  return out;
}

export interface NewApiKey {
  /** The secret: shown once, never stored. */
  key: string;
  hash: string;
  /** Safe to display and log: `lg_live_` + 4 characters. */
  prefix: string;
}

export function generateApiKey(random: (n: number) => Uint8Array = randomBytes): NewApiKey {
  const key = KEY_PREFIX + base58(random(32));
  return { key, hash: hashApiKey(key), prefix: key.slice(0, KEY_PREFIX.length + 4) };
}

export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/** Cheap shape check before any lookup: malformed keys never reach Redis. */
export function isWellFormedKey(key: string): boolean {
  return KEY_SHAPE.test(key);
}

export interface KeyRecord {
  v: 1;
  key_id: string;
  tenant_id: string;
  /** Shared by a key and the keys that rotated from it: per-key budgets follow the lineage. */
  lineage_id: string;
  prefix: string;
  /** Narrower than the tenant's scopes when set. */
  scopes?: { models?: string[]; features?: string[] };
  /** Epoch milliseconds; absent or null = no expiry. */
  expires_at?: number | null;
  revoked: boolean;
}

export function keyRecordRedisKey(prefix: string, hash: string): string {
  return `${prefix}key:${hash}`;
}

/** Pub/sub channel; each message is a key hash to drop, or `*` to drop the whole cache. */
export function revocationChannel(prefix: string): string {
  return `${prefix}keys:revoked`;
}

export function parseKeyRecord(raw: string | null | undefined): KeyRecord | undefined {
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as KeyRecord;
    if (r.v !== 1 || typeof r.key_id !== 'string' || typeof r.tenant_id !== 'string' || typeof r.lineage_id !== 'string') return undefined;
    return r;
  } catch {
    return undefined;
  }
}

/** Usable now? Expired and revoked keys are refused alike (one generic message). */
export function keyIsUsable(r: KeyRecord, now: number): boolean {
  if (r.revoked) return false;
  if (r.expires_at !== undefined && r.expires_at !== null && r.expires_at <= now) return false;
  return true;
}
