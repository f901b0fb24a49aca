/**
 * JWT and OAuth 2.0 JWT access tokens (jose). The issuer is chosen by the token's `iss` among
 * the configured ones; everything else comes from that issuer's config: algorithms are pinned
 * (never taken from the token; `none` is never accepted), audiences, leeway, and the key — a
 * JWKS URL (module-level cache, refreshed on an unknown `kid` at most once per cooldown), a PEM
 * public key or an HS secret.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import type { IssuerConfig } from './schema';

type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;
const jwksRegistry = new Map<string, RemoteJwks>();
/** Last failed JWKS fetch per resolver: while the set is stale, do not retry for a second. */
const jwksFailures = new WeakMap<RemoteJwks, number>();
export const JWKS_FAILURE_BACKOFF_MS = 1000;

/** One JWKS resolver per URL and cache settings, shared by instances across config pushes. */
export function remoteJwks(uri: string, cooldownMs: number, cacheMs: number, timeoutMs: number): RemoteJwks {
  const id = JSON.stringify([uri, cooldownMs, cacheMs, timeoutMs]);
  let jwks = jwksRegistry.get(id);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(uri), { cooldownDuration: cooldownMs, cacheMaxAge: cacheMs, timeoutDuration: timeoutMs });
    jwksRegistry.set(id, jwks);
  }
  return jwks;
}

export interface PreparedIssuer {
  cfg: IssuerConfig;
  publicKey?: KeyObject;
  secret?: Uint8Array;
  jwks?: RemoteJwks;
}

/** Throws on a broken issuer (bad PEM, no key source): the instance then fails closed. */
export function prepareIssuer(cfg: IssuerConfig): PreparedIssuer {
  const p: PreparedIssuer = { cfg };
  if (cfg.public_key) p.publicKey = createPublicKey(cfg.public_key);
  if (cfg.hs_secret) p.secret = new TextEncoder().encode(cfg.hs_secret);
  if (cfg.jwks_uri) p.jwks = remoteJwks(cfg.jwks_uri, cfg.jwks_cooldown_seconds * 1000, cfg.jwks_cache_seconds * 1000, cfg.jwks_timeout_ms);
  const hs = cfg.algorithms.some((a) => a.startsWith('HS'));
  const asym = cfg.algorithms.some((a) => !a.startsWith('HS'));
  if (hs && !p.secret) throw new Error('issuer pins an HS algorithm without hs_secret');
  if (asym && !p.publicKey && !p.jwks) throw new Error('issuer pins an asymmetric algorithm without jwks_uri or public_key');
  return p;
}

export type JwtFailure =
  | 'malformed'
  | 'unknown_issuer'
  | 'algorithm_not_allowed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_audience'
  | 'bad_issuer'
  | 'too_old'
  | 'unknown_kid'
  | 'invalid_claims';

export type JwtOutcome =
  | { ok: true; issuer: PreparedIssuer; claims: JWTPayload }
  | { ok: false; reason: JwtFailure }
  | { ok: false; reason: 'jwks_unavailable'; unavailable: true };

class KeySourceUnavailable extends Error {
  override name = 'KeySourceUnavailable';
}

/**
 * The configured entries for the issuer a token names (unverified; only used to pick configs).
 * Several entries may share one `iss` (one IdP, several tenants, each entry locked to its own).
 */
export function findIssuers(token: string, issuers: PreparedIssuer[]): PreparedIssuer[] | 'malformed' {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
    decodeProtectedHeader(token);
  } catch {
    return 'malformed';
  }
  return typeof iss === 'string' ? issuers.filter((i) => i.cfg.issuer === iss) : [];
}

/** Verify against the first configured entry for the token's issuer. */
export async function verifyJwt(token: string, issuers: PreparedIssuer[], now: number): Promise<JwtOutcome> {
  const found = findIssuers(token, issuers);
  if (found === 'malformed') return { ok: false, reason: 'malformed' };
  const issuer = found[0];
  if (!issuer) return { ok: false, reason: 'unknown_issuer' };
  return verifyWithIssuer(token, issuer, now);
}

export async function verifyWithIssuer(token: string, issuer: PreparedIssuer, now: number): Promise<JwtOutcome> {
  const cfg = issuer.cfg;
  const getKey = async (header: JWSHeaderParameters, input: FlattenedJWSInput) => {
    const alg = header.alg ?? '';
    // jose has checked `alg` against the pinned list before asking for a key.
    if (alg.startsWith('HS')) {
      if (!issuer.secret) throw new errors.JWSSignatureVerificationFailed();
      return issuer.secret;
    }
    if (issuer.publicKey && !(issuer.jwks && header.kid)) return issuer.publicKey;
    const jwks = issuer.jwks;
    if (!jwks) throw new errors.JWSSignatureVerificationFailed();
    const failedAt = jwksFailures.get(jwks);
    if (failedAt !== undefined && !jwks.fresh && Date.now() - failedAt < JWKS_FAILURE_BACKOFF_MS) throw new KeySourceUnavailable();
    try {
      return await jwks(header, input);
    } catch (e) {
      if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) throw e;
      jwksFailures.set(jwks, Date.now());
      throw new KeySourceUnavailable();
    }
  };
  try {
    const { payload } = await jwtVerify(token, getKey, {
      issuer: cfg.issuer,
      audience: cfg.audiences.length ? cfg.audiences : undefined,
      algorithms: cfg.algorithms,
      clockTolerance: cfg.leeway_seconds,
      currentDate: new Date(now),
      ...(cfg.max_age_seconds ? { maxTokenAge: cfg.max_age_seconds } : {}),
    });
    if (payload.iat !== undefined && payload.iat * 1000 > now + cfg.leeway_seconds * 1000) return { ok: false, reason: 'not_yet_valid' };
    return { ok: true, issuer, claims: payload };
  } catch (e) {
    return { ok: false, ...classify(e) } as JwtOutcome;
  }
}

function classify(e: unknown): { reason: JwtFailure } | { reason: 'jwks_unavailable'; unavailable: true } {
  if (e instanceof KeySourceUnavailable) return { reason: 'jwks_unavailable', unavailable: true };
  if (e instanceof errors.JWTExpired) return { reason: 'expired' };
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return { reason: 'not_yet_valid' };
      case 'aud':
        return { reason: 'bad_audience' };
      case 'iss':
        return { reason: 'bad_issuer' };
      case 'iat':
        return { reason: e.reason === 'check_failed' ? 'too_old' : 'invalid_claims' };
      default:
        return { reason: 'invalid_claims' };
    }
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return { reason: 'algorithm_not_allowed' };
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) return { reason: 'unknown_kid' };
  if (e instanceof errors.JWSSignatureVerificationFailed) return { reason: 'bad_signature' };
  // Invalid structure, unsecured tokens, key type mismatches (e.g. an RS public key used as an HS
  // secret): all refused as bad credentials.
  return { reason: 'malformed' };
}

/** Claim helpers shared with introspection. */
export function stringClaim(claims: Record<string, unknown>, name: string | undefined): string | undefined {
  if (!name) return undefined;
  const v = claims[name];
  return typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined;
}
