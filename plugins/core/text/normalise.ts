/**
 * Unicode normalisation for detectors, with an offset map back to the original text.
 *
 *   const n = normalise(text);
 *   // run detectors on n.text; map a match [s, e) back with n.toOriginal(s, e)
 *
 * What it does, in one pass:
 *  - NFKC per cluster (a base code point plus its combining marks), so full-width forms,
 *    ligatures, circled/mathematical letters, NBSP etc. become their compatibility forms;
 *  - removes zero-width characters, bidi controls, soft hyphens, variation selectors, tag
 *    characters and other default-ignorable code points;
 *  - folds Latin look-alikes (Cyrillic, Greek, Armenian homoglyphs, dotless i, script g) to
 *    ASCII Latin letters, and the dash family (‐ ‑ ‒ – — ― −) to '-';
 *  - leaves ASCII untouched: ASCII-only input is returned as is with an identity map (the
 *    common case costs one regex scan and no allocation).
 *
 * Offsets are UTF-16 code units (JavaScript string indices). Each output code unit knows the
 * original span of the cluster it came from; `toOriginal` is two array reads.
 *
 * Known limits (documented trade-offs): composition across clusters that are not combining
 * marks (Hangul jamo sequences) is not performed; the homoglyph table covers look-alikes of
 * Latin letters only (not digits from other scripts; those NFKC does not fold, e.g. Arabic-Indic
 * digits stay as they are).
 */

export interface Normalised {
  /** The normalised text. */
  readonly text: string;
  /** True when `text` differs from the input. */
  readonly changed: boolean;
  /**
   * Original span [start, end) for the normalised span [start, end). An empty span maps to an
   * empty span at the corresponding original position. O(1).
   */
  toOriginal(start: number, end: number): [number, number];
}


/** Default-ignorable / invisible code points that are removed. */
export function isIgnorable(cp: number): boolean {
  if (cp < 0xad) return false;
  return (
    cp === 0xad || // soft hyphen
    cp === 0x34f || // combining grapheme joiner
    cp === 0x61c || // Arabic letter mark
    cp === 0x115f || cp === 0x1160 || // Hangul fillers
    cp === 0x17b4 || cp === 0x17b5 ||
    (cp >= 0x180b && cp <= 0x180f) || // Mongolian selectors + vowel separator
    (cp >= 0x200b && cp <= 0x200f) || // ZWSP ZWNJ ZWJ LRM RLM
    (cp >= 0x202a && cp <= 0x202e) || // bidi embeddings/overrides
    (cp >= 0x2060 && cp <= 0x206f) || // word joiner, invisible operators, bidi isolates
    cp === 0x3164 || cp === 0xffa0 || // Hangul fillers
    (cp >= 0xfe00 && cp <= 0xfe0f) || // variation selectors
    cp === 0xfeff || // BOM / ZWNBSP
    (cp >= 0xfff0 && cp <= 0xfff8) ||
    (cp >= 0x1bca0 && cp <= 0x1bca3) ||
    (cp >= 0x1d173 && cp <= 0x1d17a) ||
    (cp >= 0xe0000 && cp <= 0xe0fff) // tags, variation selectors supplement
  );
}

/** Latin look-alikes → ASCII (single code point → single ASCII char). */
const CONFUSABLES: Record<number, string> = {};
function addConfusables(pairs: string): void {
  for (const pair of pairs.split(' ')) {
    const cp = pair.codePointAt(0) as number;
    CONFUSABLES[cp] = pair.slice(String.fromCodePoint(cp).length);
  }
}
// Cyrillic
addConfusables('аa вb еe һh іi јj кk оo рp сc уy хx ѕs ԁd ԛq ԝw ӏl ɡg ıi ӓa ҽe ԍg ҺH');
addConfusables('АA ВB ЕE КK МM НH ОO РP СC ТT УY ХX ЅS ІI ЈJ ԚQ ԜW ҮY ӀI ԌG');
// Greek
addConfusables('ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX ϜF οo αa νv ιi κk ρp υu ϲc ϳj ϹC ϒY');
// Armenian, Cherokee/Latin small capitals and others commonly used in spoofing
addConfusables('օo սu հh ոn ցg ԼL ՍU ՕO ᴀa ᴄc ᴅd ᴇe ᴊj ᴋk ᴍm ᴏo ᴘp ᴛt ᴜu ᴠv ᴡw ᴢz ʙb ɢg ʜh ɪi ʟl ɴn ʀr ʏy');
// Dashes and minus signs → '-'; odd quotes/apostrophes are left alone.
for (const cp of [0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xfe58, 0xfe63, 0xff0d]) CONFUSABLES[cp] = '-';
// Bullet-like/odd "at" and "dot" forms NFKC does not fold
CONFUSABLES[0x2024] = '.'; // one dot leader (NFKC gives '.', kept for clarity)

function foldString(s: string): string {
  // s is an NFKC result: fold each code point through the confusable table, drop ignorables.
  let out = '';
  for (let i = 0; i < s.length; ) {
    const cp = s.codePointAt(i) as number;
    const w = cp > 0xffff ? 2 : 1;
    if (cp < 0x80) out += s[i];
    else if (!isIgnorable(cp)) {
      const c = CONFUSABLES[cp];
      out += c !== undefined ? c : s.slice(i, i + w);
    }
    i += w;
  }
  return out;
}

// Per-BMP-code-point class, filled lazily: 0 unknown, 1 unchanged, 2 mapped (see BMP_MAPPED),
// 3 combining mark (starts/extends a cluster), 4 removed, 5 mapped to a single unit.
const UNKNOWN = 0, SAME = 1, MAPPED = 2, MARK = 3, DROP = 4, MAP1 = 5;
/** The replacement unit of a MAP1 code point (one BMP unit → one unit). */
const BMP_MAP1 = new Uint16Array(0x10000);
const BMP_CLASS = new Uint8Array(0x10000);
const BMP_MAPPED: Array<string | undefined> = [];
const ASTRAL_CACHE = new Map<number, string>();
const ASTRAL_CACHE_MAX = 4096;
const IS_MARK = /^\p{M}$/u;

function classify(c: number): number {
  let k = BMP_CLASS[c] as number;
  if (k !== UNKNOWN) return k;
  const ch = String.fromCharCode(c);
  if (isIgnorable(c)) k = DROP;
  else if (c >= 0xd800 && c <= 0xdfff) k = SAME; // surrogate halves are handled by the caller
  else if (IS_MARK.test(ch)) k = MARK;
  else {
    const conf = CONFUSABLES[c];
    const v = conf !== undefined ? conf : foldString(ch.normalize('NFKC'));
    if (v === ch) k = SAME;
    else {
      const one = v.length === 1 && (v.charCodeAt(0) < 0xd800 || v.charCodeAt(0) > 0xdfff);
      k = v.length === 0 ? DROP : one ? MAP1 : MAPPED;
      BMP_MAPPED[c] = v;
      if (one) BMP_MAP1[c] = v.charCodeAt(0);
    }
  }
  BMP_CLASS[c] = k;
  return k;
}

function normaliseAstral(cp: number, raw: string): string {
  let v = ASTRAL_CACHE.get(cp);
  if (v !== undefined) return v;
  v = isIgnorable(cp) ? '' : foldString(raw.normalize('NFKC'));
  if (ASTRAL_CACHE.size < ASTRAL_CACHE_MAX) ASTRAL_CACHE.set(cp, v);
  return v;
}

function isMarkAt(text: string, i: number): boolean {
  if (i >= text.length) return false;
  const c = text.charCodeAt(i);
  if (c < 0x300) return false;
  if (c >= 0xd800 && c <= 0xdbff) {
    // astral marks (rare): check the pair
    const cp = text.codePointAt(i) as number;
    return !isIgnorable(cp) && IS_MARK.test(String.fromCodePoint(cp));
  }
  return classify(c) === MARK;
}

function isMarkOrDropAt(text: string, i: number): boolean {
  if (i >= text.length) return false;
  const c = text.charCodeAt(i);
  if (c < 0x300) return false;
  if (c >= 0xd800 && c <= 0xdbff) {
    const cp = text.codePointAt(i) as number;
    return isIgnorable(cp) || IS_MARK.test(String.fromCodePoint(cp));
  }
  const k = classify(c);
  return k === MARK || k === DROP;
}

class IdentityMap implements Normalised {
  readonly changed = false;
  constructor(readonly text: string) {}
  toOriginal(start: number, end: number): [number, number] {
    return [start, end < start ? start : end];
  }
}

const BLOCK_SHIFT = 4; // one index entry per 16 output units

/**
 * The map is a list of segments in output order: an identity run (output unit k ↔ original unit
 * origStart + k) or a replaced cluster (every output unit ↔ the cluster's original span). A
 * block index (one entry per 16 output units) finds a unit's segment in a bounded scan.
 */
class MappedText implements Normalised {
  readonly changed = true;
  private readonly block: Int32Array;
  constructor(
    readonly text: string,
    private readonly segOut: Int32Array,
    private readonly segOrig: Int32Array,
    private readonly segOrigEnd: Int32Array, // -1 for identity runs
    private readonly segCount: number,
    private readonly originalLength: number,
  ) {
    const n = text.length;
    const blocks = (n >> BLOCK_SHIFT) + 1;
    this.block = new Int32Array(blocks);
    let k = 0;
    for (let b = 0; b < blocks; b++) {
      const p = b << BLOCK_SHIFT;
      while (k + 1 < segCount && (segOut[k + 1] as number) <= p) k++;
      this.block[b] = k;
    }
  }
  private seg(p: number): number {
    let k = this.block[p >> BLOCK_SHIFT] as number;
    const last = this.segCount - 1;
    while (k < last && (this.segOut[k + 1] as number) <= p) k++;
    return k;
  }
  toOriginal(start: number, end: number): [number, number] {
    const n = this.text.length;
    if (start < 0) start = 0;
    if (end > n) end = n;
    if (start >= n) return [this.originalLength, this.originalLength];
    let k = this.seg(start);
    let e = this.segOrigEnd[k] as number;
    const s = e < 0 ? (this.segOrig[k] as number) + (start - (this.segOut[k] as number)) : (this.segOrig[k] as number);
    if (end <= start) return [s, s];
    const q = end - 1;
    if (q !== start) {
      k = this.seg(q);
      e = this.segOrigEnd[k] as number;
    }
    return [s, e < 0 ? (this.segOrig[k] as number) + (q - (this.segOut[k] as number)) + 1 : e];
  }
}

/**
 * Normalise `text` for detection. ASCII-only input returns the same string with an identity map.
 */
export function normalise(text: string): Normalised {
  // UTF-8 length equals the UTF-16 length exactly when every unit is ASCII (a native scan).
  if (Buffer.byteLength(text, 'utf8') === text.length) return new IdentityMap(text);
  return normaliseSlow(text);
}

/**
 * The general path. Output code units go to a buffer; one-for-one replacements (homoglyphs,
 * full-width forms, dashes next to digits) keep the offsets of an identity run, so the offset
 * map only records the places where lengths change (removed characters, expansions, clusters).
 */
function normaliseSlow(text: string): Normalised {
  const len = text.length;
  const st: SlowState = {
    out: new Uint16Array(len + (len >> 3) + 16),
    segOut: new Int32Array(64),
    segOrig: new Int32Array(64),
    segOrigEnd: new Int32Array(64),
    segCount: 0,
  };
  let o = 0; // output length
  let runOut = 0; // the open identity run: output [runOut, o) ↔ original [runOrig, i)
  let runOrig = 0;
  let changed = false;
  let out = st.out;
  let i = 0;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
      i++;
      continue;
    }
    if (c < 0xd800 || c > 0xdfff) {
      let k = BMP_CLASS[c] as number;
      if (k === UNKNOWN) k = classify(c);
      const nextMark = i + 1 < len && text.charCodeAt(i + 1) >= 0x300 && isMarkAt(text, i + 1);
      if (!nextMark) {
        if (k === SAME) {
          out[o++] = c;
          i++;
          continue;
        }
        if (k === MAP1) {
          // dashes only next to a digit (nothing else a detector needs)
          if (c >= 0x2010 && c <= 0x2015 && !isDigitAt(text, i - 1) && !isDigitAt(text, i + 1) && !isDigitAt(text, i + 2) && !isDigitAt(text, i - 2)) out[o++] = c;
          else {
            out[o++] = BMP_MAP1[c] as number;
            changed = true;
          }
          i++;
          continue;
        }
      }
    }
    // Length-changing: a removed character, an expansion, a cluster with combining marks, an
    // astral code point. Close the identity run first.
    let start = i;
    if (i > runOrig && (BMP_CLASS[c] === MARK || (c >= 0xd800 && c <= 0xdbff && isMarkAt(text, i)))) {
      // a mark after a character of the identity run: the cluster starts at that character
      const prev = text.charCodeAt(i - 1);
      start = prev >= 0xdc00 && prev <= 0xdfff && i - 2 >= runOrig ? i - 2 : i - 1;
      o -= i - start;
    }
    const cp = text.codePointAt(start) as number;
    const w = cp > 0xffff ? 2 : 1;
    let end = start + w;
    // a cluster (base + marks, with removable characters among them) only when marks follow,
    // or when the cluster starts with a mark itself
    if (isMarkAt(text, end) || BMP_CLASS[cp] === MARK) {
      while (isMarkOrDropAt(text, end)) {
        const e = text.charCodeAt(end);
        end += e >= 0xd800 && e <= 0xdbff ? 2 : 1;
      }
    }
    const raw = text.slice(start, end);
    const piece = end - start === w ? (w === 1 ? bmpPiece(cp, raw) : normaliseAstral(cp, raw)) : foldString(raw.normalize('NFKC'));
    if (piece === raw) {
      for (let k = start; k < end; k++) out[o++] = text.charCodeAt(k);
      i = end;
      continue;
    }
    changed = true;
    if (o + piece.length + (len - end) + 16 > out.length) {
      const bigger = new Uint16Array((o + piece.length + (len - end)) * 2 + 16);
      bigger.set(out.subarray(0, o));
      out = st.out = bigger;
    }
    if (start > runOrig) addSeg(st, runOut, runOrig, -1);
    if (piece.length > 0) {
      addSeg(st, o, start, end);
      for (let k = 0; k < piece.length; k++) out[o++] = piece.charCodeAt(k);
    }
    runOut = o;
    runOrig = end;
    i = end;
  }
  return changed ? finish(st, o, runOut, runOrig, len) : new IdentityMap(text);
}

interface SlowState {
  out: Uint16Array;
  segOut: Int32Array;
  segOrig: Int32Array;
  segOrigEnd: Int32Array;
  segCount: number;
}

function addSeg(st: SlowState, out: number, orig: number, origEnd: number): void {
  if (st.segCount + 1 > st.segOut.length) {
    const cap = st.segOut.length * 2;
    st.segOut = grownInt32(st.segOut, cap);
    st.segOrig = grownInt32(st.segOrig, cap);
    st.segOrigEnd = grownInt32(st.segOrigEnd, cap);
  }
  st.segOut[st.segCount] = out;
  st.segOrig[st.segCount] = orig;
  st.segOrigEnd[st.segCount] = origEnd;
  st.segCount++;
}

/** Normalised form of one BMP unit taking the slow path (removed, expanded, or a lone mark). */
function bmpPiece(c: number, raw: string): string {
  const k = classify(c);
  if (k === DROP) return '';
  if (k === MAPPED || k === MAP1) return BMP_MAPPED[c] as string;
  if (k === MARK) return foldString(raw.normalize('NFKC'));
  return raw;
}

// Kept out of the loop's function: code after a hot loop that has not run yet when V8 compiles
// the loop (on-stack replacement) made it deoptimise on every call.
function finish(st: SlowState, o: number, runOut: number, runOrig: number, len: number): Normalised {
  if (len > runOrig || st.segCount === 0) addSeg(st, runOut, runOrig, -1);
  const text = Buffer.from(st.out.buffer, st.out.byteOffset, o * 2).toString('utf16le');
  return new MappedText(text, st.segOut, st.segOrig, st.segOrigEnd, st.segCount, len);
}

function isDigitAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i); // NaN outside the string
  return (c >= 48 && c <= 57) || (c >= 0xff10 && c <= 0xff19);
}

function grownInt32(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

// ---------------------------------------------------------------------------------------------
// Wrappers: base64 blocks, URL-encoding, HTML entities.

const BASE64_BLOCK = /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])/g;
const PERCENT = /%[0-9A-Fa-f]{2}/;
const ENTITY = /&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});/;
const ENTITY_G = /&(?:#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g;

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', commat: '@', period: '.',
  colon: ':', sol: '/', bsol: '\\', lowbar: '_', hyphen: '-', dash: '-', num: '#', excl: '!',
  quest: '?', equals: '=', plus: '+', percnt: '%', lpar: '(', rpar: ')', lsqb: '[', rsqb: ']',
  lcub: '{', rcub: '}', semi: ';', comma: ',', dollar: '$', ast: '*', vert: '|', grave: '`',
  Hat: '^', tilde: '~', ndash: '–', mdash: '—', hellip: '…', copy: '©', reg: '®',
};

export interface DecodeOptions {
  /** Stop after this many segments (default 32). */
  maxSegments?: number;
  /** Nested wrappers (base64 inside URL-encoding, ...) decoded up to this depth (default 2). */
  maxDepth?: number;
  /** Ignore inputs longer than this for the whole-text decoders (default 1 MiB). */
  maxChars?: number;
}

/** Share of code units that are printable text (letters, digits, punctuation, whitespace). */
function looksLikeText(s: string): boolean {
  if (s.length === 0) return false;
  let bad = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0xfffd || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) bad++;
  }
  return bad / s.length <= 0.05;
}

function decodeBase64Block(block: string): string | undefined {
  // Both alphabets; Buffer ignores the padding.
  const std = block.replace(/-/g, '+').replace(/_/g, '/');
  const unpadded = std.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  // Pure hex (hashes, ids) is far more often an id than base64.
  if (/^[0-9a-fA-F]+$/.test(unpadded)) return undefined;
  const bytes = Buffer.from(unpadded, 'base64');
  if (bytes.length < 8) return undefined;
  const s = bytes.toString('utf8');
  return looksLikeText(s) ? s : undefined;
}

function decodePercent(s: string): string | undefined {
  if (!PERCENT.test(s)) return undefined;
  // Decode byte runs; invalid UTF-8 sequences become U+FFFD rather than throwing.
  const out = s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
    const bytes = Buffer.alloc(run.length / 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16);
    return bytes.toString('utf8');
  });
  return out === s ? undefined : out;
}

function decodeEntities(s: string): string | undefined {
  if (!ENTITY.test(s)) return undefined;
  const out = s.replace(ENTITY_G, (all, dec: string | undefined, hex: string | undefined, name: string | undefined) => {
    if (dec !== undefined || hex !== undefined) {
      const cp = dec !== undefined ? parseInt(dec, 10) : parseInt(hex as string, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return all;
      return String.fromCodePoint(cp);
    }
    const v = NAMED_ENTITIES[name as string];
    return v !== undefined ? v : all;
  });
  return out === s ? undefined : out;
}

/**
 * Decoded forms of obvious wrappers in `text`, to be scanned in addition to the text itself:
 * each base64 block (≥ 16 chars, standard or URL alphabet) that decodes to printable UTF-8; the
 * whole text with %XX sequences decoded (when it has any); the whole text with HTML entities
 * decoded (when it has any). Nested wrappers are followed up to `maxDepth`. Returns [] when
 * there is nothing to decode (the common case: one cheap scan per wrapper kind).
 */
export function decodeWrappers(text: string, opts: DecodeOptions = {}): string[] {
  const maxSegments = opts.maxSegments ?? 32;
  const maxDepth = opts.maxDepth ?? 2;
  const maxChars = opts.maxChars ?? 1 << 20;
  const out: string[] = [];
  const seen = new Set<string>();
  const push = (s: string | undefined, depth: number): void => {
    if (s === undefined || out.length >= maxSegments || seen.has(s)) return;
    seen.add(s);
    out.push(s);
    if (depth < maxDepth) visit(s, depth + 1);
  };
  const visit = (s: string, depth: number): void => {
    if (s.length <= maxChars) {
      if (s.indexOf('%') !== -1) push(decodePercent(s), depth);
      if (s.indexOf('&') !== -1) push(decodeEntities(s), depth);
    }
    BASE64_BLOCK.lastIndex = 0;
    const blocks: string[] = [];
    for (let m = BASE64_BLOCK.exec(s); m !== null && blocks.length < maxSegments; m = BASE64_BLOCK.exec(s)) blocks.push(m[0]);
    for (const b of blocks) push(decodeBase64Block(b), depth);
  };
  visit(text, 1);
  return out;
}

// Warm-up: run every branch once on tiny inputs so the type feedback exists before V8 compiles
// the loops on a large input (without it, on-stack-replaced code deoptimised on every call).
for (const sample of ['plain', 'caf\u00e9 \u2014 \u201cq\u201d', 'e\u0301 \ufb01 \ud835\udc1a \u200b \u0430 \uff21 \ud83d\ude42\ufe0f', '\u0301x', '\ufdfa']) {
  const n = normalise(sample);
  n.toOriginal(0, 1);
  n.toOriginal(0, 0);
  n.toOriginal(1, n.text.length);
}
