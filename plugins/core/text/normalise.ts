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

const NON_ASCII = /[^\x00-\x7f]/g;

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
// 3 combining mark (starts/extends a cluster), 4 removed.
const UNKNOWN = 0, SAME = 1, MAPPED = 2, MARK = 3, DROP = 4;
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
      k = v.length === 0 ? DROP : MAPPED;
      BMP_MAPPED[c] = v;
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
  NON_ASCII.lastIndex = 0;
  const first = NON_ASCII.exec(text);
  if (first === null) return new IdentityMap(text);

  const len = text.length;
  let segCap = 64;
  let segOut = new Int32Array(segCap);
  let segOrig = new Int32Array(segCap);
  let segOrigEnd = new Int32Array(segCap);
  let segCount = 0;
  const parts: string[] = [];
  let o = 0; // output length, excluding the open identity run
  let runStart = 0; // the open identity run is [runStart, i)
  let changed = false;

  let i = first.index;
  for (;;) {
    i = nextSpecial(text, i, len);
    if (i >= len) break;
    const c = text.charCodeAt(i);
    let piece: string | undefined;
    let end = i + 1;
    let start = i;
    if (c < 0xd800 || c > 0xdfff) {
      const k = BMP_CLASS[c] as number;
      if (k === MAPPED || k === DROP) {
        if (!isMarkAt(text, i + 1)) piece = k === MAPPED ? (BMP_MAPPED[c] as string) : '';
      } else if (k === MARK && i > runStart) {
        // A mark after a letter of the identity run: the cluster starts at that letter.
        const prev = text.charCodeAt(i - 1);
        start = prev >= 0xdc00 && prev <= 0xdfff && i - 2 >= runStart ? i - 2 : i - 1;
      }
    }
    if (piece === undefined) {
      // A cluster: base code point (or a lone mark) plus following marks and ignorables.
      const cp = text.codePointAt(start) as number;
      const w = cp > 0xffff ? 2 : 1;
      end = start + w;
      while (isMarkOrDropAt(text, end)) {
        const e = text.charCodeAt(end);
        end += e >= 0xd800 && e <= 0xdbff ? 2 : 1;
      }
      const raw = text.slice(start, end);
      piece = end - start === w ? normaliseAstral(cp, raw) : foldString(raw.normalize('NFKC'));
      if (piece === raw) {
        i = end; // unchanged: stays in the identity run
        continue;
      }
    }
    changed = true;
    // Close the identity run [runStart, start), then add the replaced cluster.
    if (segCount + 2 > segCap) {
      segCap *= 2;
      segOut = grownInt32(segOut, segCap);
      segOrig = grownInt32(segOrig, segCap);
      segOrigEnd = grownInt32(segOrigEnd, segCap);
    }
    if (start > runStart) {
      segOut[segCount] = o;
      segOrig[segCount] = runStart;
      segOrigEnd[segCount] = -1;
      segCount++;
      parts.push(text.slice(runStart, start));
      o += start - runStart;
    }
    if (piece.length > 0) {
      segOut[segCount] = o;
      segOrig[segCount] = start;
      segOrigEnd[segCount] = end;
      segCount++;
      parts.push(piece);
      o += piece.length;
    }
    runStart = end;
    i = end;
  }
  return changed ? finish(text, parts, segOut, segOrig, segOrigEnd, segCount, o, runStart) : new IdentityMap(text);
}

// Kept out of the loop's function: code after a hot loop that has not run yet when V8 compiles
// the loop (on-stack replacement) made it deoptimise on every call.
function finish(text: string, parts: string[], segOut: Int32Array, segOrig: Int32Array, segOrigEnd: Int32Array, segCount: number, o: number, runStart: number): Normalised {
  const len = text.length;
  if (len > runStart) {
    if (segCount + 1 > segOut.length) {
      const cap = segOut.length * 2;
      segOut = grownInt32(segOut, cap);
      segOrig = grownInt32(segOrig, cap);
      segOrigEnd = grownInt32(segOrigEnd, cap);
    }
    segOut[segCount] = o;
    segOrig[segCount] = runStart;
    segOrigEnd[segCount] = -1;
    segCount++;
    parts.push(text.slice(runStart));
  }
  return new MappedText(parts.join(''), segOut, segOrig, segOrigEnd, segCount, len);
}

/** Index of the next unit at or after `i` that is neither ASCII nor an unchanged BMP code point. */
function nextSpecial(text: string, i: number, len: number): number {
  for (; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c >= 0xd800 && c <= 0xdfff) return i;
    const k = BMP_CLASS[c] as number;
    if (k === SAME || (k === UNKNOWN && classify(c) === SAME)) continue;
    // A dash between words changes nothing a detector sees: fold it only next to a digit
    // (phone/card separators), which keeps typical prose (em dashes) on the identity path.
    if (c >= 0x2010 && c <= 0x2015 && !isDigitAt(text, i - 1) && !isDigitAt(text, i + 1) && !isDigitAt(text, i + 2) && !isDigitAt(text, i - 2)) continue;
    return i;
  }
  return len;
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
