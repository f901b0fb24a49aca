import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareIssuer, verifyJwt, type PreparedIssuer } from './jwt';
import { authConfig } from './testing/fixtures';
import { startJwksServer, type JwksServer } from './testing/jwks-server';
import type { IssuerConfig } from './schema';

const ISS = 'https://idp.test';
const AUD = 'llm-gateway';
let jwks: JwksServer;
let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
let rsaJwk: JWK;
let issuers: PreparedIssuer[];
let rsaPem: string;

function issuerCfg(over: Partial<IssuerConfig>): IssuerConfig {
  return authConfig({ methods: ['jwt'], jwt_issuers: [{ issuer: ISS, algorithms: ['RS256'], ...over }] }).jwt_issuers[0] as IssuerConfig;
}

const now = () => Date.now();
const sec = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown> = {}, o: { kid?: string; key?: CryptoKey | Uint8Array; alg?: string; iss?: string; aud?: string } = {}) {
  return new SignJWT({ tenant_id: 'acme', sub: 'user-1', ...claims })
    .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'k1' })
    .setIssuer(o.iss ?? ISS)
    .setAudience(o.aud ?? AUD)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(o.key ?? rsa.privateKey);
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

beforeAll(async () => {
  rsa = await generateKeyPair('RS256', { extractable: true });
  rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = await startJwksServer([rsaJwk]);
  issuers = [prepareIssuer(issuerCfg({ jwks_uri: jwks.url, audiences: [AUD], leeway_seconds: 5, jwks_cooldown_seconds: 30 }))];
  rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
});
afterAll(async () => {
  await jwks.stop();
});

describe('JWT verification (jose, JWKS from a local server)', () => {
  it('accepts a valid token and returns its claims', async () => {
    const out = await verifyJwt(await sign(), issuers, now());
    expect(out).toMatchObject({ ok: true, claims: { tenant_id: 'acme', sub: 'user-1' } });
  });

  it('refuses expired tokens (beyond the leeway) and accepts within it', async () => {
    const expired = await new SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISS).setAudience(AUD).setIssuedAt(sec() - 120).setExpirationTime(sec() - 60).sign(rsa.privateKey);
    expect(await verifyJwt(expired, issuers, now())).toEqual({ ok: false, reason: 'expired' });
    const justExpired = await new SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISS).setAudience(AUD).setExpirationTime(sec() - 2).sign(rsa.privateKey);
    expect((await verifyJwt(justExpired, issuers, now())).ok).toBe(true);
  });

  it('refuses not-yet-valid tokens (nbf, and iat in the future)', async () => {
    const nbf = await new SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISS).setAudience(AUD).setNotBefore(sec() + 600).setExpirationTime(sec() + 900).sign(rsa.privateKey);
    expect(await verifyJwt(nbf, issuers, now())).toEqual({ ok: false, reason: 'not_yet_valid' });
    const iat = await new SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISS).setAudience(AUD).setIssuedAt(sec() + 600).setExpirationTime(sec() + 900).sign(rsa.privateKey);
    expect((await verifyJwt(iat, issuers, now())).ok).toBe(false);
  });

  it('refuses a wrong audience and an unconfigured issuer', async () => {
    expect(await verifyJwt(await sign({}, { aud: 'someone-else' }), issuers, now())).toEqual({ ok: false, reason: 'bad_audience' });
    expect(await verifyJwt(await sign({}, { iss: 'https://evil.test' }), issuers, now())).toEqual({ ok: false, reason: 'unknown_issuer' });
  });

  it('refuses a bad signature (payload changed after signing, or another key with the same kid)', async () => {
    const good = await sign();
    const [h, , s] = good.split('.');
    const forged = `${h}.${b64url(JSON.stringify({ tenant_id: 'big', iss: ISS, aud: AUD, exp: sec() + 300 }))}.${s}`;
    expect(await verifyJwt(forged, issuers, now())).toEqual({ ok: false, reason: 'bad_signature' });
    const other = await generateKeyPair('RS256');
    expect(await verifyJwt(await sign({}, { key: other.privateKey }), issuers, now())).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses alg: none', async () => {
    const header = b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = b64url(JSON.stringify({ tenant_id: 'acme', iss: ISS, aud: AUD, exp: sec() + 300 }));
    const out = await verifyJwt(`${header}.${payload}.`, issuers, now());
    expect(out.ok).toBe(false);
    expect((out as { reason: string }).reason).toBe('algorithm_not_allowed');
  });

  it('refuses HS256 signed with the RS public key (algorithm confusion), with JWKS and with a PEM issuer', async () => {
    const pemIssuer = [prepareIssuer(issuerCfg({ public_key: rsaPem }))];
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'k1' }));
    const payload = b64url(JSON.stringify({ tenant_id: 'acme', iss: ISS, aud: AUD, exp: sec() + 300 }));
    for (const secret of [rsaPem, JSON.stringify(rsaJwk)]) {
      const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      const token = `${header}.${payload}.${sig}`;
      expect(await verifyJwt(token, issuers, now())).toMatchObject({ ok: false, reason: 'algorithm_not_allowed' });
      expect(await verifyJwt(token, pemIssuer, now())).toMatchObject({ ok: false, reason: 'algorithm_not_allowed' });
    }
  });

  it('HS256 issuers verify with their secret only', async () => {
    const secret = 's'.repeat(40);
    const hs = [prepareIssuer(issuerCfg({ algorithms: ['HS256'], hs_secret: secret }))];
    const key = new TextEncoder().encode(secret);
    expect((await verifyJwt(await sign({}, { alg: 'HS256', key }), hs, now())).ok).toBe(true);
    expect(await verifyJwt(await sign({}, { alg: 'HS256', key: new TextEncoder().encode('t'.repeat(40)) }), hs, now())).toEqual({ ok: false, reason: 'bad_signature' });
    expect(() => prepareIssuer(issuerCfg({ algorithms: ['HS256'] }))).toThrow();
  });

  it('an unknown kid refreshes the JWKS, at most once per cooldown', async () => {
    const rotated = await generateKeyPair('RS256', { extractable: true });
    const k2: JWK = { ...(await exportJWK(rotated.publicKey)), kid: 'k2', alg: 'RS256' };
    const issuer = [prepareIssuer(issuerCfg({ jwks_uri: jwks.url + '?cooldown', audiences: [AUD], jwks_cooldown_seconds: 30 }))];
    jwks.keys = [rsaJwk];
    expect((await verifyJwt(await sign(), issuer, now())).ok).toBe(true);
    const before = jwks.fetches;
    // An attacker's unknown kids: within the cooldown, no fetch at all.
    for (let i = 0; i < 20; i++) {
      expect(await verifyJwt(await sign({}, { kid: `nope-${i}` }), issuer, now())).toEqual({ ok: false, reason: 'unknown_kid' });
    }
    expect(jwks.fetches - before).toBe(0);

    // Past the cooldown, a rotated key is fetched once and then served from cache.
    const shortCooldown = [prepareIssuer(issuerCfg({ jwks_uri: jwks.url + '?short', audiences: [AUD], jwks_cooldown_seconds: 1 }))];
    expect((await verifyJwt(await sign(), shortCooldown, now())).ok).toBe(true);
    jwks.keys = [rsaJwk, k2];
    await new Promise((r) => setTimeout(r, 1100));
    const f0 = jwks.fetches;
    expect((await verifyJwt(await sign({}, { kid: 'k2', key: rotated.privateKey }), shortCooldown, now())).ok).toBe(true);
    expect((await verifyJwt(await sign({}, { kid: 'k2', key: rotated.privateKey }), shortCooldown, now())).ok).toBe(true);
    expect(jwks.fetches - f0).toBe(1);
  });

  it('a JWKS that cannot be fetched makes the answer "unavailable" (503), not a pass', async () => {
    const down = await startJwksServer([rsaJwk]);
    down.down = true;
    const issuer = [prepareIssuer(issuerCfg({ jwks_uri: down.url, audiences: [AUD] }))];
    expect(await verifyJwt(await sign(), issuer, now())).toEqual({ ok: false, reason: 'jwks_unavailable', unavailable: true });
    // Within a second of a failed fetch the dead endpoint is not asked again (no stampede)...
    const fetches = down.fetches;
    expect(await verifyJwt(await sign(), issuer, now())).toMatchObject({ ok: false, unavailable: true });
    expect(down.fetches).toBe(fetches);
    // ...and once it is back, the next attempt after the backoff succeeds.
    down.down = false;
    await new Promise((r) => setTimeout(r, 1050));
    expect((await verifyJwt(await sign(), issuer, now())).ok).toBe(true);
    await down.stop();
  });

  it('refuses garbage', async () => {
    expect((await verifyJwt('a.b.c', issuers, now())).ok).toBe(false);
  });
});
