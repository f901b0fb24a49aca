/** Arbitrary headers and certificate text never crash the decision and never authenticate. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../core/keys';
import { Authenticator, type AuthRequest } from './authenticate';
import { parsePemChain } from './mtls';
import { authConfig } from './testing/fixtures';

const key = generateApiKey();
const auth = new Authenticator(
  authConfig({
    methods: ['api_key', 'jwt', 'mtls', 'consumer'],
    keys: [{ hash: key.hash, tenant: 'acme' }],
    jwt_issuers: [{ issuer: 'https://idp.test', algorithms: ['HS256'], hs_secret: 'x'.repeat(32) }],
    mtls: { ca_certificates: [], forwarded_cert_header: 'x-client-cert', trusted_proxies: ['127.0.0.1'] },
  }),
);

const headerName = fc.constantFrom('authorization', 'x-api-key', 'x-request-id', 'x-llm-feature', 'x-client-cert', 'apikey');
const headerValue = fc.oneof(
  fc.string(),
  fc.string().map((s) => `Bearer ${s}`),
  fc.string().map((s) => `Bearer lg_live_${s}`),
  fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map(([a, b, c]) => `Bearer ${a}.${b}.${c}`.replace(/[+/=]/g, 'A')),
  fc.string().map((s) => `-----BEGIN CERTIFICATE-----${s}-----END CERTIFICATE-----`),
);

describe('fuzz', () => {
  it('authenticate never throws and never allows without a real credential', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(headerName, fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 }))), fc.option(fc.string(), { nil: undefined }), async (headers, chain) => {
        const req: AuthRequest = {
          headers,
          now: Date.now(),
          clientIp: async () => '127.0.0.1',
          peerIp: async () => '127.0.0.1',
          tlsChain: async () => chain,
          consumer: async () => undefined,
        };
        const r = await auth.authenticate(req);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('parsePemChain never throws', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(Array.isArray(parsePemChain(s))).toBe(true);
        expect(Array.isArray(parsePemChain(`-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----`))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
