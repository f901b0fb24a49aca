import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export function sha256Hex(input: string | Buffer): string {
  return createHash('sha256').update(input).digest('hex');
}

export function hmacSha256Hex(key: string | Buffer, input: string): string {
  return createHmac('sha256', key).update(input).digest('hex');
}

/** Short, non-reversible fingerprint of content (prompt hashes in events): 16 hex chars. */
export function contentFingerprint(input: string | Buffer): string {
  return sha256Hex(input).slice(0, 16);
}

export function constantTimeEqualHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The displayable part of an API key (`lg_live_AbCd`): the fixed prefix plus 4 characters.
 * Safe to log; never enough to use.
 */
export function keyDisplayPrefix(key: string): string {
  const m = /^([a-z]+_[a-z]+_)(.{0,4})/.exec(key);
  return m ? `${m[1]}${m[2]}` : `${key.slice(0, 4)}…`;
}
