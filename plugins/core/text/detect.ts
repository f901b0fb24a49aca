/**
 * PII and secret detectors on the normalised view of a text, with spans mapped back to the
 * original. Linear-time: hand-written scanners and regexes without nested ambiguous
 * quantifiers, each behind a cheap prefilter (indexOf of a trigger) so plain prose costs a few
 * fast scans.
 *
 *   detect(text, { entities: ['email', 'credit_card'] }) → [{ entity, start, end }, ...]
 *
 * Findings are sorted by start and never overlap (on overlap the stronger entity wins:
 * private_key > jwt > api_key > secret > iban > credit_card > us_ssn > email > ip_address > phone).
 */
import { isIPv6 } from 'node:net';
import { normalise, type Normalised } from './normalise';
import { base64UrlDecode, cardNetwork, charClasses, IBAN_LENGTHS, ibanValid, luhnValid, shannonEntropy, ssnValid } from './validators';

export const ENTITIES = ['email', 'phone', 'credit_card', 'iban', 'us_ssn', 'ip_address', 'jwt', 'private_key', 'api_key', 'secret'] as const;
export type Entity = (typeof ENTITIES)[number];

export interface Finding {
  entity: Entity;
  /** Original-text span [start, end) in UTF-16 code units. */
  start: number;
  end: number;
}

/** A finding with its span in the normalised text and the normalised value (internal use: redact). */
export interface NormalisedFinding extends Finding {
  nStart: number;
  nEnd: number;
  value: string;
}

export interface Allowlist {
  /** Exact values (compared after normalisation; emails case-insensitively). */
  values?: readonly string[];
  /** Email domains (and their subdomains) that are not reported. */
  domains?: readonly string[];
}

export interface DetectOptions {
  /** Entities to look for (default: all). */
  entities?: readonly Entity[];
  allow?: Allowlist;
}

const PRIORITY: Record<Entity, number> = {
  private_key: 100, jwt: 90, api_key: 80, secret: 70, iban: 60, credit_card: 50, us_ssn: 45, email: 40, ip_address: 30, phone: 20,
};

interface Raw {
  entity: Entity;
  s: number;
  e: number;
}

// ---------------------------------------------------------------------------------------------
// email

function isLocalChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45 || c >= 0xc0;
}
function isDomainChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 || c === 45 || c >= 0xc0;
}
function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c >= 0xc0;
}

function findEmails(t: string, out: Raw[]): void {
  const len = t.length;
  let at = t.indexOf('@');
  while (at !== -1) {
    let l = at;
    while (l > 0 && at - l < 64 && isLocalChar(t.charCodeAt(l - 1))) l--;
    while (l < at && (t.charCodeAt(l) === 46 || t.charCodeAt(l) === 45)) l++; // no leading dot/dash
    let r = at + 1;
    while (r < len && r - at <= 253 && isDomainChar(t.charCodeAt(r))) r++;
    while (r > at + 1 && (t.charCodeAt(r - 1) === 46 || t.charCodeAt(r - 1) === 45)) r--; // trailing punctuation
    let next = at + 1;
    if (l < at && r > at + 1 && t.charCodeAt(at - 1) !== 46 && validDomain(t, at + 1, r) && t.slice(l, at).indexOf('..') === -1) {
      out.push({ entity: 'email', s: l, e: r });
      next = r;
    }
    at = t.indexOf('@', next);
  }
}

function validDomain(t: string, s: number, e: number): boolean {
  if (!isAlnum(t.charCodeAt(s))) return false;
  let labels = 0;
  let labelStart = s;
  for (let i = s; i <= e; i++) {
    if (i === e || t.charCodeAt(i) === 46) {
      const n = i - labelStart;
      if (n < 1 || n > 63) return false;
      if (t.charCodeAt(labelStart) === 45 || t.charCodeAt(i - 1) === 45) return false;
      labels++;
      if (i === e) {
        // TLD: letters only, 2–24
        if (labels < 2 || n < 2 || n > 24) return false;
        for (let k = labelStart; k < i; k++) {
          const c = t.charCodeAt(k);
          if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c >= 0xc0)) return false;
        }
      }
      labelStart = i + 1;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// numbers: credit cards, SSNs, IPv4, phones — one candidate scan

// A run of digit groups joined by single separators (space . -), optional leading '+', groups
// optionally in parentheses: "+1 (555) 123-4567", "4111 1111 1111 1111", "10.0.0.1".
// Unambiguous (each repetition needs a separator), so linear.
const NUM_CANDIDATE = /(?<![\w.@+-])\+?\(?\d+(?:\)\d*)?(?:[ .-]\(?\d+(?:\)\d*)?)*/g;

const VERSION_CONTEXT = /(?:\b(?:v|ver|version|versions|release|released|releases|rel|build|builds|upgrade|upgraded|upgrading|update|updated|updating|bump|bumped|changelog|tag|tagged|firmware|bootloader|bios|driver|kernel|patch|sdk|library|package|plugin|runtime|revision|rev|node|python|java|chrome|firefox|ios|android|windows|macos)\b(?:(?!\.\s)[^\n]){0,40}|[vV])$/i;
const SSN_CONTEXT = /\b(?:ssn|ss#|social security(?: number| no\.?)?|soc\.? sec\.?)\b[\s:#.-]{0,12}(?:is\s+)?$/i;
const PHONE_CONTEXT = /\b(?:phone|tel|telephone|call|mobile|cell|fax|whatsapp|sms|text|ring|dial|reach (?:me|us|him|her) at|contact)\b[^\n]{0,20}$/i;
const NOT_PHONE_CONTEXT = /(?:\b(?:isbn(?:-1[03])?|tracking|awb|waybill|shipment|parcel|invoice|order|serial|sku)\b(?:(?!\.\s)[^\n]){0,30}|\b(?:track|part|model|ref|reference|account|acct|routing|iban|id|no\.?|number)\b[\s:#-]{0,4})$/i;

function findNumbers(t: string, out: Raw[], want: Set<Entity>): void {
  NUM_CANDIDATE.lastIndex = 0;
  for (let m = NUM_CANDIDATE.exec(t); m !== null; m = NUM_CANDIDATE.exec(t)) {
    const s = m.index;
    const e = s + m[0].length;
    if (e - s < 7) continue;
    // right boundary: not glued to letters
    if (e < t.length && t.charCodeAt(e - 1) !== 41 && /[A-Za-z_]/.test(t[e] as string)) continue;
    classifyRun(t, s, e, out, want);
  }
}

/**
 * Digit groups of one candidate run, in module-level typed arrays reused across calls (a run of
 * a hundred thousand numbers must not become a hundred thousand objects).
 */
let G_S = new Int32Array(256); // start of the group's digits (normalised offset)
let G_E = new Int32Array(256); // end
let G_SEP = new Uint16Array(256); // separator before the group: 0 none (first), a char code, or 41 for ')'
let G_FLAGS = new Uint8Array(256); // 1: preceded by '(', 2: followed by ')'
const OPEN = 1, CLOSE = 2;

function growGroups(): void {
  const n = G_S.length * 2;
  const s = new Int32Array(n); s.set(G_S); G_S = s;
  const e = new Int32Array(n); e.set(G_E); G_E = e;
  const p = new Uint16Array(n); p.set(G_SEP); G_SEP = p;
  const f = new Uint8Array(n); f.set(G_FLAGS); G_FLAGS = f;
}

/** Parse the run [s, e) into the group arrays; returns the group count (negative when it starts with '+'). */
function parseGroups(t: string, s: number, e: number): { g: number; plus: boolean } {
  let g = 0;
  let plus = false;
  let i = s;
  if (t.charCodeAt(i) === 43) {
    plus = true;
    i++;
  }
  let sep = 0;
  let open = 0;
  while (i < e) {
    const c = t.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      const gs = i;
      while (i < e && t.charCodeAt(i) >= 48 && t.charCodeAt(i) <= 57) i++;
      if (g >= G_S.length) growGroups();
      G_S[g] = gs;
      G_E[g] = i;
      G_SEP[g] = sep;
      G_FLAGS[g] = open;
      g++;
      sep = 0;
      open = 0;
    } else if (c === 40) {
      open = OPEN;
      i++;
    } else if (c === 41) {
      if (g > 0) G_FLAGS[g - 1] = (G_FLAGS[g - 1] as number) | CLOSE;
      i++;
      // "(0)20": digits glued after ')' start a new group with no separator
      if (i < e && t.charCodeAt(i) >= 48 && t.charCodeAt(i) <= 57) sep = 41;
    } else {
      sep = c; // the candidate pattern allows one separator between groups
      i++;
    }
  }
  return { g, plus };
}

const glen = (k: number): number => (G_E[k] as number) - (G_S[k] as number);
const gsep = (k: number): number => G_SEP[k] as number;
const gflag = (k: number, f: number): boolean => ((G_FLAGS[k] as number) & f) !== 0;
const gd = (t: string, k: number): string => t.slice(G_S[k] as number, G_E[k] as number);

function classifyRun(t: string, s: number, e: number, out: Raw[], want: Set<Entity>): void {
  const { g, plus } = parseGroups(t, s, e);
  try {
    if (g > 0) classifyGroups(t, s, g, plus, out, want);
  } finally {
    // do not keep megabytes of group arrays after one huge run
    if (G_S.length > 65536) {
      G_S = new Int32Array(256);
      G_E = new Int32Array(256);
      G_SEP = new Uint16Array(256);
      G_FLAGS = new Uint8Array(256);
    }
  }
}

function classifyGroups(t: string, s: number, g: number, plus: boolean, out: Raw[], want: Set<Entity>): void {
  let i = 0;
  let lastEnd = -1; // group index right after the previous match
  const maxWindow = 8;
  while (i < g) {
    let matched = false;
    for (let j = Math.min(g, i + maxWindow); j > i; j--) {
      // A window may not cut a run where it is joined by one of its own separators: the
      // middle of a tracking number or an OID is not a card, phone or IP address.
      if (j - i > 1 && (i > 0 || j < g)) {
        if (i > 0 && i !== lastEnd && !gflag(i, OPEN) && innerHas(i, j, gsep(i))) continue;
        if (j < g && !gflag(j - 1, CLOSE) && innerHas(i, j, gsep(j))) continue;
      }
      const r = classifyWindow(t, i, j, plus && i === 0, s, want);
      if (r !== undefined) {
        out.push(r);
        i = j;
        lastEnd = j;
        matched = true;
        break;
      }
    }
    if (!matched) i++;
  }
}

/** Is `sep` one of the separators inside the window [i, j)? */
function innerHas(i: number, j: number, sep: number): boolean {
  for (let k = i + 1; k < j; k++) if (G_SEP[k] === sep) return true;
  return false;
}

function classifyWindow(t: string, i: number, j: number, plus: boolean, runStart: number, want: Set<Entity>): Raw | undefined {
  const n = j - i;
  const first = i;
  const last = j - 1;
  // cheap feasibility check before any allocation: the digit count decides what it could be
  let D = 0;
  for (let k = i; k < j; k++) D += glen(k);
  const couldCard = D >= 13 && D <= 19;
  const couldSsn = D === 9 && (n === 3 || n === 1);
  const couldIp = n === 4 && D <= 12;
  const couldPhone = D >= 7 && D <= 15;
  if (!couldCard && !couldSsn && !couldIp && !couldPhone) return undefined;
  // separators inside the window; parentheses inside it (other than around the whole of it)
  let anyParen = false;
  let sameSep = true;
  let allDots = true;
  let anyDot = false;
  let phoneSeps = true;
  const sep0 = n > 1 ? gsep(i + 1) : 0;
  for (let k = i; k < j; k++) {
    if ((gflag(k, OPEN) && k > i) || (gflag(k, CLOSE) && k < j - 1) || (k > i && gsep(k) === 41)) anyParen = true;
    if (k > i) {
      const sp = gsep(k);
      if (sp !== sep0) sameSep = false;
      if (sp === 46) anyDot = true;
      else allDots = false;
      if (sp !== 32 && sp !== 45 && sp !== 46 && sp !== 41) phoneSeps = false;
    }
  }
  const areaParens = gflag(first, OPEN) && gflag(first, CLOSE) && n > 1; // "(555) 123-4567"
  if (areaParens) anyParen = true;
  let digits = '';
  for (let k = i; k < j; k++) digits += gd(t, k);
  // span: the leading '+'; parentheses only around a phone area code
  const start = plus ? runStart : (G_S[first] as number) - (areaParens ? 1 : 0);
  const end = G_E[last] as number;
  let beforeText: string | undefined;
  const before = (): string => (beforeText ??= t.slice(Math.max(0, start - 40), start));
  const lens = (): number[] => {
    const l: number[] = [];
    for (let k = i; k < j; k++) l.push(glen(k));
    return l;
  };

  // credit card
  if (want.has('credit_card') && couldCard && !plus && !anyParen && (n === 1 || (sameSep && (sep0 === 32 || sep0 === 45)))) {
    const ls = lens();
    const shapeOk = n === 1 || (ls.slice(0, -1).every((x) => x === 4) && (ls[n - 1] as number) >= 1 && (ls[n - 1] as number) <= 4) || (n === 3 && ls[0] === 4 && ls[1] === 6 && (ls[2] === 5 || ls[2] === 4));
    if (shapeOk && luhnValid(digits) && cardNetwork(digits) !== undefined) return { entity: 'credit_card', s: start, e: end };
  }
  // US SSN
  if (want.has('us_ssn') && couldSsn && !plus && !anyParen) {
    if (n === 3 && sameSep && (sep0 === 45 || sep0 === 32) && ssnValid(gd(t, first), gd(t, i + 1), gd(t, last))) {
      // "123 45 6789" with spaces only with context
      if (sep0 === 45 || SSN_CONTEXT.test(before())) return { entity: 'us_ssn', s: start, e: end };
    }
    if (n === 1 && ssnValid(digits.slice(0, 3), digits.slice(3, 5), digits.slice(5)) && SSN_CONTEXT.test(before())) return { entity: 'us_ssn', s: start, e: end };
  }
  // IPv4
  if (want.has('ip_address') && couldIp && !plus && !anyParen && allDots) {
    let ok = true;
    for (let k = i; k < j; k++) {
      const d = gd(t, k);
      if (d.length > 3 || +d > 255 || (d.length > 1 && d[0] === '0')) ok = false;
    }
    if (ok && !VERSION_CONTEXT.test(before())) return { entity: 'ip_address', s: start, e: end };
  }
  // phone: the shape first, the (costlier) context checks only for a shape that fits
  if (want.has('phone') && couldPhone && phoneSeps && !(anyDot && !allDots)) {
    const ls = lens();
    const nanp = (ds: string) => ds.length === 10 && ds[0] !== '0' && ds[0] !== '1' && ds[3] !== '0' && ds[3] !== '1';
    let shape = false;
    if (plus) shape = D >= 8 && t[G_S[first] as number] !== '0'; // E.164: +CC then 7–14 more digits
    // NANP: (AAA) EEE-NNNN, AAA-EEE-NNNN, AAA.EEE.NNNN, AAA EEE NNNN, 1-AAA-EEE-NNNN
    else if (n === 3 && ls[0] === 3 && ls[1] === 3 && ls[2] === 4 && nanp(digits)) shape = true;
    else if (n === 4 && ls[0] === 1 && gd(t, first) === '1' && ls[1] === 3 && ls[2] === 3 && ls[3] === 4 && nanp(digits.slice(1))) shape = true;
    else if (n === 2 && areaParens && ls[0] === 3 && ls[1] === 7 && nanp(digits)) shape = true;
    // National formats with a trunk 0: 020 7946 0958, 07700 900123, 030 12345678, 01 23 45 67 89
    else if (digits[0] === '0' && digits[1] !== '0' && D >= 9 && D <= 12 && n >= 2 && ls.every((x) => x >= 2 && x <= 8) && (ls[0] as number) <= 5 && (!/^(?:19|20)\d\d$/.test(gd(t, last)) || n > 3)) shape = true;
    if (shape) {
      if (!NOT_PHONE_CONTEXT.test(before()) || PHONE_CONTEXT.test(before())) return { entity: 'phone', s: start, e: end };
      return undefined;
    }
    // bare 10 digits or other shapes only next to a phone word
    if (D >= 10 && D <= 11 && (nanp(digits) || (D === 11 && digits[0] === '1' && nanp(digits.slice(1))) || digits[0] === '0') && PHONE_CONTEXT.test(before())) return { entity: 'phone', s: start, e: end };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// IBAN

const IBAN_CANDIDATE = /[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32}/g;

function findIbans(t: string, out: Raw[]): void {
  IBAN_CANDIDATE.lastIndex = 0;
  for (let m = IBAN_CANDIDATE.exec(t); m !== null; m = IBAN_CANDIDATE.exec(t)) {
    const s = m.index;
    if (s > 0 && isAlnum(t.charCodeAt(s - 1))) {
      IBAN_CANDIDATE.lastIndex = s + 1;
      continue;
    }
    const len = IBAN_LENGTHS[t.slice(s, s + 2)];
    if (len === undefined) {
      IBAN_CANDIDATE.lastIndex = s + 1;
      continue;
    }
    // take exactly `len` alphanumerics (the match may run into a following word)
    let compact = '';
    let k = s;
    const stop = s + m[0].length;
    while (k < stop && compact.length < len) {
      const c = t[k] as string;
      if (c !== ' ') compact += c;
      k++;
    }
    // must end at a boundary
    const after = t.charCodeAt(k);
    if (compact.length === len && !(k < t.length && ((after >= 48 && after <= 57) || (after >= 65 && after <= 90) || (after >= 97 && after <= 122))) && ibanValid(compact)) {
      out.push({ entity: 'iban', s, e: k });
      IBAN_CANDIDATE.lastIndex = k;
    } else IBAN_CANDIDATE.lastIndex = s + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// IPv6

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

/** IPv6: look only around ':' (rare in prose), take the maximal hex/colon run, validate it. */
function findIpv6(t: string, out: Raw[]): void {
  const len = t.length;
  let p = t.indexOf(':');
  while (p !== -1) {
    const before = p > 0 ? t.charCodeAt(p - 1) : 0;
    const after = p + 1 < len ? t.charCodeAt(p + 1) : 0;
    if (!((isHex(before) || before === 58) && (isHex(after) || after === 58))) {
      p = t.indexOf(':', p + 1);
      continue;
    }
    let s = p;
    while (s > 0 && (isHex(t.charCodeAt(s - 1)) || t.charCodeAt(s - 1) === 58) && p - s < 45) s--;
    let e = p + 1;
    while (e < len && (isHex(t.charCodeAt(e)) || t.charCodeAt(e) === 58 || t.charCodeAt(e) === 46) && e - s < 45) e++;
    while (e > p + 1 && t.charCodeAt(e - 1) === 46) e--; // trailing sentence dot
    if (t.charCodeAt(e - 1) === 58 && t.charCodeAt(e - 2) !== 58) e--; // "addr fe80::1:" → drop the lone trailing ':'
    const leftOk = s === 0 || !(isWordChar(t.charCodeAt(s - 1)) || t.charCodeAt(s - 1) === 46);
    const rightOk = e >= len || !(isWordChar(t.charCodeAt(e)) || t.charCodeAt(e) === 58);
    const v = t.slice(s, e);
    if (leftOk && rightOk && isIPv6(v)) {
      let groups = 0;
      for (const part of v.split(':')) if (part.length > 0) groups++;
      // skip trivially short forms (::1, a::b) and times: need ≥ 3 groups and a digit somewhere
      if (groups >= 3 && /\d/.test(v)) out.push({ entity: 'ip_address', s, e });
    }
    p = t.indexOf(':', Math.max(e, p + 1));
  }
}

// ---------------------------------------------------------------------------------------------
// JWT, PEM, API keys, generic secrets

const JWT_CANDIDATE = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

function findJwts(t: string, out: Raw[]): void {
  JWT_CANDIDATE.lastIndex = 0;
  for (let m = JWT_CANDIDATE.exec(t); m !== null; m = JWT_CANDIDATE.exec(t)) {
    const header = base64UrlDecode(m[0].slice(0, m[0].indexOf('.')));
    if (header === undefined) continue;
    try {
      const h = JSON.parse(header) as unknown;
      if (typeof h === 'object' && h !== null && typeof (h as { alg?: unknown }).alg === 'string') out.push({ entity: 'jwt', s: m.index, e: m.index + m[0].length });
    } catch {
      /* not a JWT */
    }
  }
}

const PEM_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----/g;
const PEM_BODY = /[A-Za-z0-9+/=\s:,.-]*/y;

function findPems(t: string, out: Raw[]): void {
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(t); m !== null; m = PEM_BEGIN.exec(t)) {
    const endMarker = `-----END ${m[1] ?? ''}PRIVATE KEY${m[2] ?? ''}-----`;
    const bodyStart = m.index + m[0].length;
    const endAt = t.indexOf(endMarker, bodyStart);
    let e: number;
    if (endAt !== -1 && endAt - bodyStart < 64 * 1024) e = endAt + endMarker.length;
    else {
      // truncated key: everything that still looks like the base64 body
      PEM_BODY.lastIndex = bodyStart;
      const b = PEM_BODY.exec(t);
      e = bodyStart + (b ? b[0].length : 0);
      while (e > bodyStart && /\s/.test(t[e - 1] as string)) e--;
    }
    out.push({ entity: 'private_key', s: m.index, e });
    PEM_BEGIN.lastIndex = e;
  }
}

const API_KEY_TRIGGER = /sk-|_live_|AKIA|ASIA|gh[pousr]_|github_pat_|xox[bpras]-|AIza/;
const API_KEY = /(?<![A-Za-z0-9_-])(?:sk-[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|xox[bpras]-[A-Za-z0-9-]{10,}|[sr]k_live_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])/g;

function findApiKeys(t: string, out: Raw[]): void {
  if (!API_KEY_TRIGGER.test(t)) return;
  API_KEY.lastIndex = 0;
  for (let m = API_KEY.exec(t); m !== null; m = API_KEY.exec(t)) {
    const v = m[0];
    if (v.startsWith('sk-') && (!/\d/.test(v) || !/[A-Za-z]/.test(v.slice(3)) || charClasses(v.slice(3)) < 2)) continue;
    out.push({ entity: 'api_key', s: m.index, e: m.index + v.length });
  }
}

const SECRET_STEMS = /api|secret|client|access|auth|refresh|token|pass|pwd|private|bearer|credential/gi;
const SECRET = /(?<![A-Za-z0-9])(?:api[_ -]?key|apikey|secret(?:[_ -]?key)?|client[_ -]?secret|access[_ -]?(?:token|key)|auth[_ -]?token|refresh[_ -]?token|token|passwd|password|pwd|passphrase|private[_ -]?key|bearer|credentials?)(?:["'`\]]{0,2})[ \t]{0,4}(?:[:=]|=>|\b(?:is(?: now)?|was|now|(?:is |has been |was )?(?:set|changed|reset) to|to|will be)\b)?[ \t]{0,4}["'`]?([A-Za-z0-9_\-+/=.~!@#$%^&*]{8,200})/iy;

function looksLikePlaceholder(v: string): boolean {
  if (/^[A-Z0-9_]+$/.test(v) && /[A-Z]/.test(v) && v.includes('_')) return true; // YOUR_API_KEY
  if (/^(.)\1+$/.test(v)) return true; // xxxxxxxx, ********
  if (/^\$\{|^\$[A-Za-z_][A-Za-z0-9_]*$|^%[A-Za-z_]+%$|^\{\{|^process\.env|^os\.environ|^env\.|^\.\.\.|your|example|placeholder|redacted|changeme|<|>/i.test(v)) return true;
  return false;
}

function findSecrets(t: string, out: Raw[]): void {
  // Keyword stems first (one scan), then the full pattern, anchored, at each.
  SECRET_STEMS.lastIndex = 0;
  let done = 0;
  for (let st = SECRET_STEMS.exec(t); st !== null; st = SECRET_STEMS.exec(t)) {
    if (st.index < done) continue;
    SECRET.lastIndex = st.index;
    const m = SECRET.exec(t);
    if (m === null) continue;
    let v = m[1] as string;
    // trailing sentence punctuation is not part of the value
    while (v.length > 0 && /[.!,]$/.test(v)) v = v.slice(0, -1);
    if (v.length < 8 || looksLikePlaceholder(v)) continue;
    const classes = charClasses(v);
    const h = shannonEntropy(v);
    const strong = (classes >= 3 && h >= 2.4) || (classes >= 2 && v.length >= 10 && h >= 3.0) || (v.length >= 20 && h >= 3.3);
    if (!strong) continue;
    const s = m.index + m[0].length - (m[1] as string).length;
    out.push({ entity: 'secret', s, e: s + v.length });
    done = s + v.length;
    SECRET_STEMS.lastIndex = done;
  }
}

// ---------------------------------------------------------------------------------------------

function resolveOverlaps(raw: Raw[]): Raw[] {
  if (raw.length <= 1) return raw;
  raw.sort((a, b) => a.s - b.s || b.e - a.e);
  const kept: Raw[] = [];
  for (const r of raw) {
    const last = kept[kept.length - 1];
    if (last === undefined || r.s >= last.e) {
      kept.push(r);
      continue;
    }
    // overlap: the stronger entity wins, then the longer span
    const pr = PRIORITY[r.entity], pl = PRIORITY[last.entity];
    if (pr > pl || (pr === pl && r.e - r.s > last.e - last.s)) {
      kept.pop();
      // the new one may overlap more kept ones
      while (kept.length > 0 && (kept[kept.length - 1] as Raw).e > r.s && PRIORITY[(kept[kept.length - 1] as Raw).entity] <= pr) kept.pop();
      const prev = kept[kept.length - 1];
      if (prev === undefined || prev.e <= r.s) kept.push(r);
    }
  }
  return kept;
}

function allowed(entity: Entity, value: string, allow: Allowlist | undefined): boolean {
  if (!allow) return false;
  if (allow.values && allow.values.length > 0) {
    const cmp = entity === 'email' ? value.toLowerCase() : value;
    for (const a of allow.values) if ((entity === 'email' ? a.toLowerCase() : a) === cmp) return true;
  }
  if (entity === 'email' && allow.domains && allow.domains.length > 0) {
    const domain = value.slice(value.lastIndexOf('@') + 1).toLowerCase();
    for (const d of allow.domains) {
      const dl = d.toLowerCase();
      if (domain === dl || domain.endsWith(`.${dl}`)) return true;
    }
  }
  return false;
}

const ALL = new Set<Entity>(ENTITIES);
const WANT_CACHE = new WeakMap<readonly Entity[], Set<Entity>>();

/** Detect on an already normalised text (callers that also run other rules normalise once). */
export function detectNormalised(n: Normalised, opts: DetectOptions = {}): NormalisedFinding[] {
  let want = ALL;
  if (opts.entities) {
    want = WANT_CACHE.get(opts.entities) ?? new Set(opts.entities);
    WANT_CACHE.set(opts.entities, want);
  }
  const t = n.text;
  const raw: Raw[] = [];
  if (want.has('private_key') && t.indexOf('-----BEGIN') !== -1) findPems(t, raw);
  if (want.has('jwt') && t.indexOf('eyJ') !== -1) findJwts(t, raw);
  if (want.has('api_key')) findApiKeys(t, raw);
  if (want.has('secret')) findSecrets(t, raw);
  if (want.has('email') && t.indexOf('@') !== -1) findEmails(t, raw);
  if (want.has('iban')) findIbans(t, raw);
  if (want.has('credit_card') || want.has('phone') || want.has('us_ssn') || want.has('ip_address')) findNumbers(t, raw, want);
  if (want.has('ip_address') && t.indexOf(':') !== -1) findIpv6(t, raw);
  const kept = resolveOverlaps(raw);
  const out: NormalisedFinding[] = [];
  for (const r of kept) {
    const value = t.slice(r.s, r.e);
    if (allowed(r.entity, value, opts.allow)) continue;
    const [start, end] = n.toOriginal(r.s, r.e);
    out.push({ entity: r.entity, start, end, nStart: r.s, nEnd: r.e, value });
  }
  return out;
}

/** Detect entities in `text`; spans are in the original text. */
export function detect(text: string, opts: DetectOptions = {}): Finding[] {
  return detectNormalised(normalise(text), opts).map(({ entity, start, end }) => ({ entity, start, end }));
}
