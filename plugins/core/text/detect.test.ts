import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { detect, type Entity } from './detect';
import { redact, RedactSession, type RedactPolicy } from './redact';
import { genCard, genEmail, genIban, mulberry32 } from '../../../test/data/pii/generate';
import { loadCorpus, score } from '../../../test/data/pii/evaluate';

const found = (text: string, entity?: Entity) =>
  detect(text)
    .filter((f) => entity === undefined || f.entity === entity)
    .map((f) => text.slice(f.start, f.end));

const ALL: RedactPolicy = {
  entities: { email: 'redact', phone: 'redact', credit_card: 'redact', iban: 'redact', us_ssn: 'redact', ip_address: 'redact', jwt: 'redact', private_key: 'redact', api_key: 'redact', secret: 'redact' },
  replacement: 'placeholder',
};

describe('detectors: positives', () => {
  it.each([
    ['email', 'write to jane.doe+news@mail.example.co.uk.', 'jane.doe+news@mail.example.co.uk'],
    ['phone', 'call +1 (415) 555-2671 now', '+1 (415) 555-2671'],
    ['phone', 'office (212) 555-0199.', '(212) 555-0199'],
    ['phone', 'UK: 020 7946 0958', '020 7946 0958'],
    ['phone', 'E.164 +4930123456789', '+4930123456789'],
    ['phone', 'FR 01 23 45 67 89', '01 23 45 67 89'],
    ['credit_card', 'card 4111-1111-1111-1111 exp', '4111-1111-1111-1111'],
    ['credit_card', 'amex 3782 822463 10005', '3782 822463 10005'],
    ['credit_card', 'pan 5555555555554444.', '5555555555554444'],
    ['iban', 'IBAN DE89 3704 0044 0532 0130 00 please', 'DE89 3704 0044 0532 0130 00'],
    ['iban', 'GB82WEST12345698765432', 'GB82WEST12345698765432'],
    ['us_ssn', 'SSN 219-09-9998 on file', '219-09-9998'],
    ['us_ssn', 'social security number: 219099998', '219099998'],
    ['ip_address', 'from 203.0.113.7, then', '203.0.113.7'],
    ['ip_address', 'v6 2001:db8:85a3::8a2e:370:7334 seen', '2001:db8:85a3::8a2e:370:7334'],
    ['api_key', 'key=AKIAIOSFODNN7EXAMPLE;', 'AKIAIOSFODNN7EXAMPLE'],
    ['api_key', 'slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'],
    ['api_key', 'stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['api_key', 'google AIzaSyA1234567890abcdefghijklmnopqrstuv', 'AIzaSyA1234567890abcdefghijklmnopqrstuv'],
    ['api_key', 'gh github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV', 'github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV'],
    ['secret', 'DB_PASSWORD=pX9#kq2!Lm7z', 'pX9#kq2!Lm7z'],
  ] as Array<[Entity, string, string]>)('%s in %j', (entity, text, value) => {
    expect(found(text, entity)).toEqual([value]);
  });

  it('JWT: header must decode to JSON with alg', () => {
    const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
    const jwt = `${header}.eyJzdWIiOiIxIn0.c2lnbmF0dXJl`;
    expect(found(`Bearer ${jwt}`, 'jwt')).toEqual([jwt]);
    const fake = `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.eyJzdWIiOiIxIn0.c2ln`;
    expect(found(fake, 'jwt')).toEqual([]);
  });

  it('PEM private keys, complete or truncated', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----';
    expect(found(`here:\n${key}\nbye`, 'private_key')).toEqual([key]);
    expect(found('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA', 'private_key')).toEqual(['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA']);
    expect(found('-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----')).toEqual([]);
  });
});

describe('detectors: look-alikes are left alone', () => {
  it.each([
    'Order 1234567812345678 ships Monday.', // 16 digits, Luhn fails
    'Changelog: bumped to version 10.2.3.4 today.',
    'Upgraded firmware 4.12.0.3 overnight.',
    'Meeting on 2024-03-15 at 10:30, or 15.03.2024, or 03/15/2024.',
    'ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2.',
    'UPS 1Z999AA10123456784, USPS 9400 1000 0000 0000 0000 00.',
    'The OID 1.3.6.1.4.1.311 belongs to a vendor.',
    'It costs USD 1,234.56 and weighs 12.5 kg.',
    'Times 12:30:45 and ratio 16:9; C++ std::vector.',
    'commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b',
    'We use sk-learn for the model. The password is correct.',
    'Set api_key=YOUR_API_KEY and password: ********.',
    'Ping @johnny on chat, or user at example dot com.',
    'SSN 000-12-3456 and 666-12-3456 and 912-12-3456 are invalid.',
    'not an IBAN: DE89 3704 0044 0532 0130 01',
  ])('%j', (text) => {
    expect(detect(text)).toEqual([]);
  });
});

describe('normalised view', () => {
  it('finds entities disguised with full-width digits and zero-width characters, spans in the original', () => {
    const fw = 'card ４１１１ １１１１ １１１１ １１１１ end';
    expect(found(fw, 'credit_card')).toEqual(['４１１１ １１１１ １１１１ １１１１']);
    const zw = 'mail jo\u200bhn@exa\u200dmple.com now';
    expect(found(zw, 'email')).toEqual(['jo\u200bhn@exa\u200dmple.com']);
    const homoglyph = 'mail jоhn@ехample.com now'; // Cyrillic о, е, х
    expect(found(homoglyph, 'email')).toEqual(['jоhn@ехample.com']);
  });
});

describe('redact', () => {
  it('numbers placeholders consistently within a session', () => {
    const s = new RedactSession();
    const a = redact('a@example.com, b@example.com, A@EXAMPLE.COM', ALL, s);
    expect(a.text).toBe('[EMAIL_1], [EMAIL_2], [EMAIL_1]');
    const b = redact('again b@example.com and c@example.com', ALL, s);
    expect(b.text).toBe('again [EMAIL_2] and [EMAIL_3]');
  });

  it('hash replacement is stable per salt and differs across salts', () => {
    const p = { ...ALL, replacement: 'hash' as const, salt: 's1' };
    const x = redact('mail bob@example.com', p).text;
    expect(x).toMatch(/^mail \[EMAIL_[0-9a-f]{12}\]$/);
    expect(redact('bob@example.com', p).text).toBe(x.slice(5));
    expect(redact('bob@example.com', { ...p, salt: 's2' }).text).not.toBe(x.slice(5));
  });

  it('mask keeps card last four and the shape', () => {
    expect(redact('card 4111 1111 1111 1111', { ...ALL, replacement: 'mask' }).text).toBe('card **** **** **** 1111');
    expect(redact('bob@example.com', { ...ALL, replacement: 'mask' }).text).toBe('***@*******.***');
  });

  it('block and log actions: blocked flag, findings without values, text untouched', () => {
    const p: RedactPolicy = { entities: { credit_card: 'block', email: 'log' }, replacement: 'placeholder' };
    const r = redact('x bob@example.com 4111111111111111', p);
    expect(r.blocked).toBe(true);
    expect(r.text).toBe('x bob@example.com 4111111111111111');
    expect(r.findings.map((f) => [f.entity, f.action])).toEqual([['email', 'log'], ['credit_card', 'block']]);
    expect(JSON.stringify(r.findings)).not.toContain('bob');
  });

  it('allowlists of values and domains', () => {
    const p: RedactPolicy = { ...ALL, allow: { values: ['support@acme.io'], domains: ['example.com'] } };
    expect(redact('support@acme.io, x@example.com, y@sub.example.com, z@evil.com', p).text).toBe('support@acme.io, x@example.com, y@sub.example.com, [EMAIL_1]');
  });

  it('only the entities in the policy are detected', () => {
    expect(redact('bob@example.com 4111111111111111', { entities: { email: 'redact' }, replacement: 'placeholder' }).text).toBe('[EMAIL_1] 4111111111111111');
  });
});

// -------------------------------------------------------------------------------------------
// Property tests

const WORDS = ['the', 'report', 'shows', 'growth', 'of', '12', 'percent', 'in', 'Q3', 'and', 'we', 'met', 'on', 'Monday', 'at', 'room', '4', 'with', 'Anna', 'version', '2.1', 'costs', '$30', 'it’s', 'done', '—', 'ok', '(see', 'notes)', 'e.g.', 'i.e.', 'café', '日本', 'naïve', 'x', 'y', '100%', '2024', 'items:', '-', '*'];
const prose = fc.array(fc.constantFrom(...WORDS), { maxLength: 40 }).chain((words) =>
  fc.array(fc.constantFrom(' ', ' ', ' ', '\n', ', ', '. '), { minLength: words.length, maxLength: words.length }).map((seps) => words.map((w, i) => w + seps[i]).join('')),
);

describe('property tests', () => {
  it('text without entities comes back byte-identical (same string, no findings)', () => {
    fc.assert(
      fc.property(prose, (text) => {
        const r = redact(text, ALL);
        expect(r.findings).toEqual([]);
        expect(r.text).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('any generated email, card or IBAN placed in random text is redacted', () => {
    fc.assert(
      fc.property(prose, prose, fc.integer(), fc.constantFrom('email', 'card', 'iban'), fc.constantFrom('', ' ', '(', '"', '\n', ': '), fc.constantFrom('', ' ', ')', '".', '.\n', ', '), (before, after, seed, kind, l, r) => {
        const rng = mulberry32(seed);
        const value = kind === 'email' ? genEmail(rng) : kind === 'card' ? genCard(rng) : genIban(rng);
        // keep the value separated from the prose around it
        // (a number glued to another number by a bare space is one run, e.g. "2024 4111 1111…":
        // written text separates them with punctuation, so the property does too)
        const lsep = /\d\s*$/.test(before + l) ? `${l}; ` : before.length > 0 && l === '' ? ' ' : l;
        const rsep = /^\s*\d/.test(r + after) ? `${r}; ` : after.length > 0 && r === '' ? ' ' : r;
        const text = `${before}${lsep}${value}${rsep}${after}`;
        const out = redact(text, ALL).text;
        expect(out).not.toContain(value);
        expect(out).toMatch(kind === 'email' ? /\[EMAIL_1\]/ : kind === 'card' ? /\[CREDIT_CARD_1\]/ : /\[IBAN_1\]/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('labelled corpus', () => {
  it('reaches recall ≥ 0.99 and precision ≥ 0.98 on every entity', () => {
    const { perEntity } = score(loadCorpus());
    for (const s of perEntity) {
      expect.soft(s.recall, `${s.entity} recall`).toBeGreaterThanOrEqual(0.99);
      expect.soft(s.precision, `${s.entity} precision`).toBeGreaterThanOrEqual(0.98);
    }
  });
});
