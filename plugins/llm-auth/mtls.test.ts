import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTrustedProxy, normalizeFingerprint, parseCaBundle, parsePemChain, tenantForCertificate, trustedProxyList, verifyChain } from './mtls';
import { makeTestPki, type TestPki } from './testing/certs';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
}, 30_000);
afterAll(() => pki.cleanup());

const now = () => Date.now();

describe('mTLS chain verification (certificates made with openssl)', () => {
  it('accepts leaf + intermediate leading to the configured root', () => {
    const cas = parseCaBundle([pki.rootCa]);
    const r = verifyChain(parsePemChain(pki.leafChain), cas, now());
    expect(r.ok).toBe(true);
  });

  it('accepts a leaf alone when the intermediate is in the CA bundle', () => {
    const cas = parseCaBundle([pki.rootCa + pki.intermediateCa]);
    expect(verifyChain(parsePemChain(pki.leaf), cas, now()).ok).toBe(true);
  });

  it('refuses a leaf without its intermediate when only the root is trusted', () => {
    expect(verifyChain(parsePemChain(pki.leaf), parseCaBundle([pki.rootCa]), now())).toEqual({ ok: false, reason: 'untrusted' });
  });

  it('refuses a certificate from another CA (wrong CA)', () => {
    expect(verifyChain(parsePemChain(pki.wrongCa), parseCaBundle([pki.rootCa, pki.intermediateCa]), now())).toEqual({ ok: false, reason: 'untrusted' });
  });

  it('refuses a chain whose "intermediate" is a leaf pretending to be a CA', () => {
    // A client certificate issued by the root (CA:FALSE) signed another leaf: not a valid issuer.
    expect(verifyChain(parsePemChain(pki.viaNonCaChain), parseCaBundle([pki.rootCa]), now())).toEqual({ ok: false, reason: 'untrusted' });
    // Control: leafB itself, issued directly by the root, is fine.
    expect(verifyChain(parsePemChain(pki.leafB), parseCaBundle([pki.rootCa]), now()).ok).toBe(true);
  });

  it('refuses expired and not-yet-valid certificates, and server-only usage', () => {
    const cas = parseCaBundle([pki.rootCa]);
    expect(verifyChain(parsePemChain(pki.expired + pki.intermediateCa), cas, now())).toEqual({ ok: false, reason: 'expired' });
    expect(verifyChain(parsePemChain(pki.notYetValid + pki.intermediateCa), cas, now())).toEqual({ ok: false, reason: 'not_yet_valid' });
    expect(verifyChain(parsePemChain(pki.serverUsage + pki.intermediateCa), cas, now())).toEqual({ ok: false, reason: 'not_client_cert' });
    // A valid chain checked ten years from now: expired.
    expect(verifyChain(parsePemChain(pki.leafChain), cas, now() + 10 * 365 * 86400_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('parses URL-encoded (nginx $ssl_client_escaped_cert) and whitespace-folded PEM', () => {
    const enc = encodeURIComponent(pki.leafChain);
    expect(parsePemChain(enc).length).toBe(2);
    expect(parsePemChain(pki.leaf.replace(/\n/g, ' ')).length).toBe(1);
    expect(parsePemChain('garbage')).toEqual([]);
    expect(() => parseCaBundle(['not a cert'])).toThrow();
  });

  it('maps a leaf to a tenant by fingerprint, exact subject, or CN', () => {
    const leaf = new X509Certificate(pki.leaf);
    const fp = leaf.fingerprint256;
    expect(tenantForCertificate(leaf, [{ fingerprint_sha256: fp, tenant: 'acme' }])).toBe('acme');
    expect(tenantForCertificate(leaf, [{ fingerprint_sha256: normalizeFingerprint(fp), tenant: 'acme' }])).toBe('acme');
    expect(tenantForCertificate(leaf, [{ subject: 'O=Acme\nCN=svc-a', tenant: 'big' }])).toBe('big');
    expect(tenantForCertificate(leaf, [{ subject: 'CN=svc-a, O=Acme', tenant: 'big' }])).toBe('big');
    expect(tenantForCertificate(leaf, [{ subject: '/O=Acme/CN=svc-a', tenant: 'big' }])).toBe('big');
    expect(tenantForCertificate(leaf, [{ subject: 'CN=svc-a,O=Other', tenant: 'big' }])).toBeUndefined();
    expect(tenantForCertificate(leaf, [{ subject: 'CN=svc-a', tenant: 'small' }])).toBe('small');
    expect(tenantForCertificate(leaf, [{ subject: 'CN=svc-b', tenant: 'small' }])).toBeUndefined();
  });

  it('trusted proxies: addresses and CIDRs, IPv4-mapped IPv6', () => {
    const list = trustedProxyList(['10.0.0.0/8', '127.0.0.1', '::1']);
    expect(isTrustedProxy(list, '10.1.2.3')).toBe(true);
    expect(isTrustedProxy(list, '::ffff:127.0.0.1')).toBe(true);
    expect(isTrustedProxy(list, '::1')).toBe(true);
    expect(isTrustedProxy(list, '192.168.0.1')).toBe(false);
    expect(isTrustedProxy(list, undefined)).toBe(false);
    expect(() => trustedProxyList(['nope'])).toThrow();
  });
});
