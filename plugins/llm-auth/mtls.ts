/**
 * mTLS client certificates (pure, node:crypto X509Certificate): parse a PEM chain, verify it
 * leads to a configured CA with every certificate inside its validity dates, and map the leaf
 * (SHA-256 fingerprint or subject) to a tenant. Also: trusted-proxy checks for a forwarded
 * certificate header.
 */
import { BlockList, isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import type { MtlsIdentityConfig } from './schema';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** Certificates in a PEM text (leaf first); tolerant of URL-encoding and folded whitespace. */
export function parsePemChain(text: string): X509Certificate[] {
  let pem = text;
  if (pem.includes('%')) {
    try {
      pem = decodeURIComponent(pem);
    } catch {
      return [];
    }
  }
  const out: X509Certificate[] = [];
  for (const m of pem.matchAll(PEM_BLOCK)) {
    const body = (m[1] ?? '').replace(/[^A-Za-z0-9+/=]/g, '');
    const lines = body.match(/.{1,64}/g) ?? [];
    try {
      out.push(new X509Certificate(`-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`));
    } catch {
      return [];
    }
  }
  return out;
}

export type ChainFailure = 'malformed' | 'untrusted' | 'expired' | 'not_yet_valid' | 'not_client_cert';
export type ChainResult = { ok: true; leaf: X509Certificate } | { ok: false; reason: ChainFailure };

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

function dateCheck(c: X509Certificate, now: number): ChainFailure | undefined {
  if (Date.parse(c.validFrom) > now) return 'not_yet_valid';
  if (Date.parse(c.validTo) < now) return 'expired';
  return undefined;
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Verify leaf → intermediates (from the presented chain, CA:true) → a configured CA. */
export function verifyChain(chain: X509Certificate[], cas: X509Certificate[], now: number, maxDepth = 5): ChainResult {
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: 'malformed' };
  const eku = leaf.keyUsage;
  if (Array.isArray(eku) && eku.length > 0 && !eku.includes(CLIENT_AUTH) && !eku.includes(ANY_EKU)) return { ok: false, reason: 'not_client_cert' };
  let current = leaf;
  const used = new Set<X509Certificate>([leaf]);
  for (let depth = 0; depth <= maxDepth; depth++) {
    const bad = dateCheck(current, now);
    if (bad) return { ok: false, reason: bad };
    const anchor = cas.find((ca) => signedBy(current, ca));
    if (anchor) {
      const caBad = dateCheck(anchor, now);
      return caBad ? { ok: false, reason: caBad } : { ok: true, leaf };
    }
    const next = chain.find((c) => !used.has(c) && c.ca && signedBy(current, c));
    if (!next) return { ok: false, reason: 'untrusted' };
    used.add(next);
    current = next;
  }
  return { ok: false, reason: 'untrusted' };
}

export function normalizeFingerprint(fp: string): string {
  return fp.replace(/:/g, '').toLowerCase();
}

/**
 * A subject as a canonical string: attributes split on newlines (Node's form) or on commas /
 * slashes before `KEY=` (RFC 4514 `CN=a,O=b`, OpenSSL `/O=b/CN=a`), trimmed, sorted.
 */
export function canonicalSubject(subject: string): string {
  return subject
    .split(/\n|,(?=\s*[A-Za-z][A-Za-z0-9.]*=)|\/(?=[A-Za-z][A-Za-z0-9.]*=)/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      return i < 0 ? p : `${p.slice(0, i).trim().toUpperCase()}=${p.slice(i + 1).trim()}`;
    })
    .sort()
    .join('\n');
}

function commonName(subject: string): string | undefined {
  for (const line of subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

/** Tenant of a verified leaf: fingerprint first, then the whole subject (any order/format), then `CN=<name>`. */
export function tenantForCertificate(leaf: X509Certificate, identities: MtlsIdentityConfig[]): string | undefined {
  const fp = normalizeFingerprint(leaf.fingerprint256);
  const byFp = identities.find((i) => i.fingerprint_sha256 && normalizeFingerprint(i.fingerprint_sha256) === fp);
  if (byFp) return byFp.tenant;
  const subject = canonicalSubject(leaf.subject);
  const bySubject = identities.find((i) => i.subject && canonicalSubject(i.subject) === subject);
  if (bySubject) return bySubject.tenant;
  const cn = commonName(leaf.subject);
  const byCn = cn !== undefined ? identities.find((i) => i.subject && canonicalSubject(i.subject) === `CN=${cn}`) : undefined;
  return byCn?.tenant;
}

/** Parse the CA bundle once per instance (throws on no usable certificate: fail closed). */
export function parseCaBundle(pems: string[]): X509Certificate[] {
  const out = pems.flatMap((p) => parsePemChain(p));
  if (pems.length > 0 && out.length === 0) throw new Error('mtls.ca_certificates holds no certificate');
  return out;
}

export function trustedProxyList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/');
    const type = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (!isIP(addr ?? '')) throw new Error('mtls.trusted_proxies holds an invalid address');
    if (bits !== undefined) list.addSubnet(addr as string, Number(bits), type);
    else list.addAddress(addr as string, type);
  }
  return list;
}

export function isTrustedProxy(list: BlockList, ip: string | undefined): boolean {
  if (!ip) return false;
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = v4mapped ? (v4mapped[1] as string) : ip;
  const family = isIP(addr);
  if (!family) return false;
  return list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
}
