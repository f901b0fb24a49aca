/**
 * Builds the labelled PII corpus (test/data/pii/corpus.jsonl) and exports the value generators
 * the property tests use. Deterministic (seeded); run `npx tsx test/data/pii/generate.ts` to
 * rewrite the file.
 *
 * Each line: {"id", "text", "labels": [{"entity","start","end"}]}. Positives sit at the start,
 * middle and end of texts, next to punctuation, in brackets, quotes, markdown, JSON and lists,
 * sometimes disguised (full-width digits, zero-width splits). Negatives are look-alikes:
 * Luhn-failing order numbers, version strings, dates, ISBNs, tracking numbers, times, prices,
 * hashes, UUIDs, placeholders, handles without a domain.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ibanWithCheckDigits, IBAN_LENGTHS, luhnValid } from '../../../plugins/core/text/validators';
import type { Entity } from '../../../plugins/core/text/detect';

export type Rng = () => number;
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const digits = (r: Rng, n: number): string => Array.from({ length: n }, () => String(int(r, 0, 9))).join('');
const chars = (r: Rng, alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet[int(r, 0, alphabet.length - 1)]).join('');
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64URL = `${ALNUM}-_`;

const FIRST = ['john', 'maria', 'li', 'ahmed', 'sofia', 'jean-luc', 'anna', 'o.brien', 'kim', 'raj', 'fatima', 'lukas', 'emma', 'noah', 'chen', 'olga', 'pedro', 'yuki'];
const LAST = ['smith', 'garcia', 'wang', 'khan', 'rossi', 'picard', 'novak', 'kim', 'patel', 'mueller', 'johnson', 'tanaka', 'silva', 'ivanova'];
const DOMAINS = ['example.com', 'acme-corp.io', 'mail.example.org', 'company.co.uk', 'gmail.com', 'outlook.com', 'uni-heidelberg.de', 'startup.ai', 'health.gov', 'shop.example.net'];

export function genEmail(r: Rng): string {
  const f = pick(r, FIRST), l = pick(r, LAST);
  const local = pick(r, [`${f}.${l}`, `${f}${int(r, 1, 99)}`, `${f[0]}${l}`, `${f}_${l}`, `${f}+${pick(r, ['news', 'work', 'test'])}`, `${l}.${f}`]);
  const e = `${local}@${pick(r, DOMAINS)}`;
  return r() < 0.1 ? e.toUpperCase() : e;
}

function luhnComplete(prefix: string, len: number, r: Rng): string {
  let body = prefix + digits(r, len - prefix.length - 1);
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  body = ''; // unreachable
  return body;
}
export function genCardDigits(r: Rng): string {
  const kind = pick(r, ['visa', 'visa', 'mc', 'mc2', 'amex', 'discover']);
  switch (kind) {
    case 'visa': return luhnComplete('4', 16, r);
    case 'mc': return luhnComplete(String(int(r, 51, 55)), 16, r);
    case 'mc2': return luhnComplete(String(int(r, 2221, 2720)), 16, r);
    case 'amex': return luhnComplete(pick(r, ['34', '37']), 15, r);
    default: return luhnComplete('6011', 16, r);
  }
}
export function formatCard(d: string, r: Rng): string {
  const style = pick(r, ['plain', 'space', 'dash']);
  if (style === 'plain') return d;
  const sep = style === 'space' ? ' ' : '-';
  if (d.length === 15) return [d.slice(0, 4), d.slice(4, 10), d.slice(10)].join(sep);
  return d.match(/.{1,4}/g)!.join(sep);
}
export function genCard(r: Rng): string {
  return formatCard(genCardDigits(r), r);
}

const IBAN_COUNTRIES = ['DE', 'GB', 'FR', 'NL', 'ES', 'IT', 'CH', 'BE', 'AT', 'PL', 'SE', 'IE', 'PT', 'NO', 'DK'];
export function genIban(r: Rng): string {
  const c = pick(r, IBAN_COUNTRIES);
  const len = IBAN_LENGTHS[c] as number;
  let bban: string;
  if (c === 'GB' || c === 'IE') bban = chars(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 4) + digits(r, len - 8);
  else if (c === 'NL') bban = chars(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 4) + digits(r, len - 8);
  else if (c === 'FR' || c === 'IT') bban = (c === 'IT' ? chars(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1) : '') + digits(r, len - 4 - (c === 'IT' ? 1 : 0));
  else bban = digits(r, len - 4);
  const iban = ibanWithCheckDigits(c, bban);
  return r() < 0.6 ? iban.match(/.{1,4}/g)!.join(' ') : iban;
}

export function genSsn(r: Rng): string {
  let area = int(r, 1, 899);
  if (area === 666) area = 667;
  const a = String(area).padStart(3, '0');
  return `${a}-${String(int(r, 1, 99)).padStart(2, '0')}-${String(int(r, 1, 9999)).padStart(4, '0')}`;
}

export function genPhone(r: Rng): string {
  const nanp = () => `${int(r, 2, 9)}${digits(r, 2)}`;
  const ex = () => `${int(r, 2, 9)}${digits(r, 2)}`;
  const style = pick(r, ['(a) e-n', 'a-e-n', 'a.e.n', '+1 a e n', '+1 (a) e-n', '1-a-e-n', '+44', 'uk', '+49', 'de', '+33', 'fr', 'e164']);
  switch (style) {
    case '(a) e-n': return `(${nanp()}) ${ex()}-${digits(r, 4)}`;
    case 'a-e-n': return `${nanp()}-${ex()}-${digits(r, 4)}`;
    case 'a.e.n': return `${nanp()}.${ex()}.${digits(r, 4)}`;
    case '+1 a e n': return `+1 ${nanp()} ${ex()} ${digits(r, 4)}`;
    case '+1 (a) e-n': return `+1 (${nanp()}) ${ex()}-${digits(r, 4)}`;
    case '1-a-e-n': return `1-${nanp()}-${ex()}-${digits(r, 4)}`;
    case '+44': return `+44 ${int(r, 20, 79)} ${digits(r, 4)} ${digits(r, 4)}`;
    case 'uk': return pick(r, [`020 ${int(r, 7000, 8999)} ${digits(r, 4)}`, `07${digits(r, 3)} ${digits(r, 6)}`]);
    case '+49': return `+49 ${int(r, 30, 89)} ${digits(r, 7)}`;
    case 'de': return `0${int(r, 30, 89)} ${digits(r, 7)}`;
    case '+33': return `+33 ${int(r, 1, 9)} ${digits(r, 2)} ${digits(r, 2)} ${digits(r, 2)} ${digits(r, 2)}`;
    case 'fr': return `0${int(r, 1, 9)} ${digits(r, 2)} ${digits(r, 2)} ${digits(r, 2)} ${digits(r, 2)}`;
    default: return `+${int(r, 1, 9)}${digits(r, int(r, 9, 11))}`;
  }
}

export function genIp(r: Rng): string {
  if (r() < 0.7) {
    const style = pick(r, ['private10', 'private192', 'public']);
    if (style === 'private10') return `10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
    if (style === 'private192') return `192.168.${int(r, 0, 255)}.${int(r, 1, 254)}`;
    return `${int(r, 11, 223)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;
  }
  const h = () => int(r, 0, 0xffff).toString(16);
  return pick(r, [`2001:db8:${h()}:${h()}::${h()}`, `fe80::${h()}:${h()}:${h()}:${h()}`, [h(), h(), h(), h(), h(), h(), h(), h()].join(':'), `2001:0db8:85a3:0000:0000:8a2e:0370:${h()}`]);
}

const b64u = (s: string) => Buffer.from(s).toString('base64url');
export function genJwt(r: Rng): string {
  const header = b64u(JSON.stringify({ alg: pick(r, ['HS256', 'RS256', 'ES256']), typ: 'JWT' }));
  const payload = b64u(JSON.stringify({ sub: digits(r, 8), name: `${pick(r, FIRST)} ${pick(r, LAST)}`, iat: 1700000000 + int(r, 0, 9999999) }));
  return `${header}.${payload}.${chars(r, B64URL, 43)}`;
}

export function genPem(r: Rng): string {
  const label = pick(r, ['RSA ', 'EC ', 'OPENSSH ', '', 'ENCRYPTED ']);
  const lines = Array.from({ length: int(r, 3, 8) }, () => chars(r, `${ALNUM}+/`, 64));
  return `-----BEGIN ${label}PRIVATE KEY-----\n${lines.join('\n')}\n${chars(r, `${ALNUM}+/`, int(r, 8, 60))}=\n-----END ${label}PRIVATE KEY-----`;
}

export function genApiKey(r: Rng): string {
  switch (pick(r, ['openai', 'openai-proj', 'aws', 'aws-sts', 'github', 'github-pat', 'slack', 'stripe', 'stripe-rk', 'google'])) {
    case 'openai': return `sk-${chars(r, ALNUM, 48)}`;
    case 'openai-proj': return `sk-proj-${chars(r, `${ALNUM}_-`, 100)}`;
    case 'aws': return `AKIA${chars(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
    case 'aws-sts': return `ASIA${chars(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16)}`;
    case 'github': return `ghp_${chars(r, ALNUM, 36)}`;
    case 'github-pat': return `github_pat_${chars(r, ALNUM, 22)}_${chars(r, ALNUM, 59)}`;
    case 'slack': return `xox${pick(r, ['b', 'p', 'a'])}-${digits(r, 12)}-${digits(r, 12)}-${chars(r, ALNUM, 24)}`;
    case 'stripe': return `sk_live_${chars(r, ALNUM, 24)}`;
    case 'stripe-rk': return `rk_live_${chars(r, ALNUM, 24)}`;
    default: return `AIza${chars(r, `${ALNUM}_-`, 35)}`;
  }
}

export function genSecretValue(r: Rng): string {
  return pick(r, [chars(r, `${ALNUM}!@#$%^&*`, int(r, 12, 24)), chars(r, ALNUM, 32), `${pick(r, ['Summer', 'Blue', 'Tiger', 'Rocket'])}${int(r, 10, 99)}${pick(r, ['!', '#', '$', '&'])}${chars(r, ALNUM, 4)}`]);
}

// ---------------------------------------------------------------------------------------------

type Piece = string | { entity: Entity; value: string };

interface Template {
  entity: Entity;
  make: (r: Rng, v: string) => Piece[];
}

const e = (entity: Entity, value: string) => ({ entity, value });

const PROSE = [
  'Thanks for reaching out about the migration plan.',
  'The quarterly numbers look better than expected, with revenue up 12% year over year.',
  'Our team reviewed the incident report on Tuesday and agreed on three follow-ups.',
  'Please keep this thread short; the board meeting starts at 3 pm.',
  'As discussed, the rollout will happen in two phases over the next month.',
  'Here is a summary of what changed since the last release.',
  'I have attached the updated spreadsheet with 42 rows and the new totals.',
  'Let me know if anything in this draft looks off.',
  '— Best regards, the support team.',
  'Note: the meeting room on floor 4 seats about 20 people.',
];

function templates(): Template[] {
  const T: Template[] = [];
  const add = (entity: Entity, fns: Array<(r: Rng, v: string) => Piece[]>) => fns.forEach((make) => T.push({ entity, make }));
  add('email', [
    (_r, v) => ['You can contact the customer at ', e('email', v), '.'],
    (_r, v) => [e('email', v), ' is the address on file for this account.'],
    (_r, v) => ['Send the signed contract to ', e('email', v), ' and cc legal.'],
    (_r, v) => ['Reply-To: <', e('email', v), '>'],
    (_r, v) => ['{"name": "Jane", "email": "', e('email', v), '"}'],
    (_r, v) => ['- Owner: **', e('email', v), '**'],
    (_r, v) => ['(primary contact: ', e('email', v), ')'],
  ]);
  add('phone', [
    (_r, v) => ['Call me back on ', e('phone', v), ' after 5 pm.'],
    (_r, v) => [e('phone', v), ' is the number we have for the patient.'],
    (_r, v) => ['Phone: ', e('phone', v)],
    (_r, v) => ['You can reach the front desk at ', e('phone', v), ', extension 12.'],
    (_r, v) => ['| Alice | ', e('phone', v), ' | Berlin |'],
  ]);
  add('credit_card', [
    (_r, v) => ['The card ending in the number ', e('credit_card', v), ' was charged twice.'],
    (_r, v) => ['Card number: ', e('credit_card', v), ', exp 09/27, CVV on the back.'],
    (_r, v) => [e('credit_card', v), ' — please refund this card.'],
    (_r, v) => ['{"pan":"', e('credit_card', v), '","currency":"EUR"}'],
  ]);
  add('iban', [
    (_r, v) => ['Please wire the deposit to IBAN ', e('iban', v), ' by Friday.'],
    (_r, v) => [e('iban', v), ' is the account for the refund.'],
    (_r, v) => ['Bank details:\nBeneficiary: ACME GmbH\nAccount: ', e('iban', v), '\nBIC: COBADEFFXXX'],
  ]);
  add('us_ssn', [
    (_r, v) => ['The applicant\u2019s SSN is ', e('us_ssn', v), ' according to the form.'],
    (_r, v) => [e('us_ssn', v), ' was entered in the social security field.'],
    (_r, v) => ['SSN: ', e('us_ssn', v)],
    (_r, v) => ['We verified the number (', e('us_ssn', v), ') against the W-2.'],
  ]);
  add('ip_address', [
    (_r, v) => ['The login came from ', e('ip_address', v), ' at midnight.'],
    (_r, v) => [e('ip_address', v), ' was blocked by the firewall.'],
    (_r, v) => ['Connect to the database host at ', e('ip_address', v), ' on port 5432.'],
    (_r, v) => ['client_ip=', e('ip_address', v), ' status=403'],
  ]);
  add('jwt', [
    (_r, v) => ['Authorization: Bearer ', e('jwt', v)],
    (_r, v) => ['Use this token for the test: ', e('jwt', v), '.'],
    (_r, v) => [e('jwt', v), ' expired yesterday.'],
  ]);
  add('private_key', [
    (_r, v) => ['Here is the deploy key:\n\n', e('private_key', v), '\n\nKeep it safe.'],
    (_r, v) => ['```\n', e('private_key', v), '\n```'],
  ]);
  add('api_key', [
    (_r, v) => ['Set OPENAI_API_KEY to ', e('api_key', v), ' in your shell.'],
    (_r, v) => ['export TOKEN="', e('api_key', v), '"'],
    (_r, v) => [e('api_key', v), ' is the key that leaked in the logs.'],
    (_r, v) => ['The config has `', e('api_key', v), '` hard-coded.'],
  ]);
  add('secret', [
    (_r, v) => ['password: ', e('secret', v)],
    (_r, v) => ['The admin password is ', e('secret', v), ' until Monday.'],
    (_r, v) => ['client_secret=', e('secret', v), '&grant_type=client_credentials'],
    (_r, v) => ['{"api_key": "', e('secret', v), '"}'],
  ]);
  return T;
}

const GEN: Record<Entity, (r: Rng) => string> = {
  email: genEmail, phone: genPhone, credit_card: genCard, iban: genIban, us_ssn: genSsn, ip_address: genIp,
  jwt: genJwt, private_key: genPem, api_key: genApiKey, secret: genSecretValue,
};

/** Look-alike negatives: none of these is an entity. */
function negative(r: Rng): string {
  const luhnFail = () => {
    let d = digits(r, 16);
    while (luhnValid(d)) d = digits(r, 16);
    return d;
  };
  return pick(r, [
    () => `Your order number is ${luhnFail()} and it ships tomorrow.`,
    () => `Order #${luhnFail().match(/.{4}/g)!.join('-')} was cancelled.`,
    () => `Changelog: upgraded to version ${int(r, 1, 20)}.${int(r, 0, 9)}.${int(r, 0, 30)}.${int(r, 0, 99)} with bug fixes.`,
    () => `Bump dependency to v${int(r, 1, 12)}.${int(r, 0, 9)}.${int(r, 0, 9)}.${int(r, 0, 9)}.`,
    () => `The meeting is on ${int(r, 2019, 2030)}-${String(int(r, 1, 12)).padStart(2, '0')}-${String(int(r, 1, 28)).padStart(2, '0')} at ${int(r, 8, 17)}:${pick(r, ['00', '30'])}.`,
    () => `Deadline: ${String(int(r, 1, 28)).padStart(2, '0')}.${String(int(r, 1, 12)).padStart(2, '0')}.${int(r, 2019, 2030)}.`,
    () => `Born ${int(r, 1, 12)}/${int(r, 1, 28)}/${int(r, 1950, 2005)}, joined ${int(r, 1, 12)}/${int(r, 1, 28)}/2021.`,
    () => `ISBN ${pick(r, ['978-3-16-148410-0', '978-0-306-40615-7', '0-306-40615-2', '979-10-90636-07-1', '978-1-4028-9462-6'])} is out of print.`,
    () => `Tracking number: 1Z${chars(r, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 16)} (UPS).`,
    () => `USPS tracking ${pick(r, ['9400', '9205', '9361'])} ${digits(r, 4)} ${digits(r, 4)} ${digits(r, 4)} ${digits(r, 4)} ${digits(r, 2)}`,
    () => `FedEx shipment ${digits(r, 4)} ${digits(r, 4)} ${digits(r, 4)} left Memphis.`,
    () => `The total came to $${int(r, 1, 9)},${digits(r, 3)}.${digits(r, 2)} after a ${int(r, 5, 40)}% discount.`,
    () => `Commit ${chars(r, '0123456789abcdef', 40)} fixed the race condition.`,
    () => `Request id ${chars(r, '0123456789abcdef', 8)}-${chars(r, '0123456789abcdef', 4)}-4${chars(r, '0123456789abcdef', 3)}-a${chars(r, '0123456789abcdef', 3)}-${chars(r, '0123456789abcdef', 12)} failed.`,
    () => `The race finished in ${int(r, 1, 3)}:${int(r, 10, 59)}:${int(r, 10, 59)}.`,
    () => `Coordinates ${int(r, 10, 60)}.${digits(r, 4)}, ${int(r, 1, 20)}.${digits(r, 4)} mark the site.`,
    () => `Follow @${pick(r, FIRST)}${int(r, 1, 99)} for updates; email is user at example dot com.`,
    () => `We use sk-learn and scikit-image for the models.`,
    () => `The password is correct, and the token is valid.`,
    () => `Set api_key=YOUR_API_KEY and secret: <your-secret-here> before running.`,
    () => `Use password: ******** in the screenshot only.`,
    () => `Population grew from ${int(r, 1, 9)},${digits(r, 3)},${digits(r, 3)} to ${int(r, 1, 9)},${digits(r, 3)},${digits(r, 3)}.`,
    () => `Part number ${digits(r, 3)}-${digits(r, 2)}-${digits(r, 5)} is back in stock.`,
    () => `Room ${int(r, 100, 999)}, building ${int(r, 1, 9)}, ${int(r, 10000, 99999)} Springfield.`,
    () => `The matrix is ${int(r, 2, 9)}x${int(r, 2, 9)} and the result was ${int(r, 1000, 9999)} ${int(r, 100, 999)} ${int(r, 10, 99)}.`,
    () => `Error 0x${chars(r, '0123456789ABCDEF', 8)} at address 0x${chars(r, '0123456789abcdef', 12)}.`,
    () => `The OID 1.3.6.1.4.1.${int(r, 1000, 9999)} identifies the vendor.`,
    () => `Phone lines open ${int(r, 7, 9)}-${int(r, 17, 20)} on weekdays; 24/7 support costs extra.`,
    () => `std::vector<int> and ns::map are C++ types; ratio 16:9 at 12:30.`,
    () => `Invoice INV-${int(r, 2019, 2026)}-${digits(r, 6)} is overdue by ${int(r, 2, 90)} days.`,
  ])();
}

function disguise(r: Rng, v: string, entity: Entity): string {
  // Full-width digits or a zero-width split inside, for the entities a user could retype.
  if (!['email', 'phone', 'credit_card', 'us_ssn'].includes(entity)) return v;
  const x = r();
  if (x < 0.06) return [...v].map((c) => (c >= '0' && c <= '9' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('');
  if (x < 0.12) {
    const i = int(r, 1, v.length - 1);
    return `${v.slice(0, i)}\u200b${v.slice(i)}`;
  }
  return v;
}

export interface LabelledDoc {
  id: number;
  text: string;
  labels: Array<{ entity: Entity; start: number; end: number }>;
}

export function buildCorpus(seed = 20261124, size = 2000): LabelledDoc[] {
  const r = mulberry32(seed);
  const T = templates();
  const docs: LabelledDoc[] = [];
  for (let id = 0; id < size; id++) {
    const pieces: Piece[] = [];
    const nSentences = int(r, 1, 5);
    for (let k = 0; k < nSentences; k++) {
      if (k > 0) pieces.push(pick(r, [' ', '\n', '\n\n', ' ']));
      const kind = r();
      if (kind < 0.45) {
        const t = pick(r, T);
        const v = disguise(r, GEN[t.entity](r), t.entity);
        pieces.push(...t.make(r, v));
      } else if (kind < 0.8) pieces.push(negative(r));
      else pieces.push(pick(r, PROSE));
    }
    let text = '';
    const labels: LabelledDoc['labels'] = [];
    for (const p of pieces) {
      if (typeof p === 'string') text += p;
      else {
        labels.push({ entity: p.entity, start: text.length, end: text.length + p.value.length });
        text += p.value;
      }
    }
    docs.push({ id, text, labels });
  }
  return docs;
}

if (require.main === module) {
  const docs = buildCorpus();
  const file = join(__dirname, 'corpus.jsonl');
  writeFileSync(file, `${docs.map((d) => JSON.stringify(d)).join('\n')}\n`);
  const counts: Record<string, number> = {};
  for (const d of docs) for (const l of d.labels) counts[l.entity] = (counts[l.entity] ?? 0) + 1;
  console.log(`wrote ${docs.length} documents to ${file}`, counts);
}
