/**
 * Input-token counting with the model family's real tokenizer (gpt-tokenizer), plus OpenAI's
 * published image rule. Special-token text in user input (`<|endoftext|>`) is counted as plain
 * text, never a throw.
 */
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';

export type EncodingName = 'o200k_base' | 'cl100k_base';

const OPTS = { disallowedSpecial: new Set<string>() };

/** Encoding for a model id (provider prefixes such as `openai/` are ignored). Unknown → o200k. */
export function encodingForModel(model: string): EncodingName {
  const m = model.toLowerCase().replace(/^.*\//, '');
  if (/^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o\d|codex|omni-)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5|gpt-35|text-embedding-|text-davinci|davinci-002|babbage-002)/.test(m)) return 'cl100k_base';
  return 'o200k_base';
}

export function countText(text: string, enc: EncodingName): number {
  if (text.length === 0) return 0;
  return enc === 'o200k_base' ? o200k.countTokens(text, OPTS) : cl100k.countTokens(text, OPTS);
}

export interface ImageCostOptions {
  mode: 'tiles' | 'flat';
  /** Flat cost, and the cost of a high/auto image of unknown size in tiles mode. */
  flat: number;
}

/**
 * OpenAI's rule for gpt-4o-class vision input: `low` = 85; `high`/`auto` = scale to fit in
 * 2048×2048, then so the shortest side is at most 768, then 85 + 170 per 512-px tile.
 */
export function imageTokens(detail: string | undefined, dims: { w: number; h: number } | undefined, opts: ImageCostOptions): number {
  if (opts.mode === 'flat') return opts.flat;
  if (detail === 'low') return 85;
  if (!dims || dims.w <= 0 || dims.h <= 0) return opts.flat;
  let { w, h } = dims;
  if (w > 2048 || h > 2048) {
    const s = 2048 / Math.max(w, h);
    w *= s;
    h *= s;
  }
  if (Math.min(w, h) > 768) {
    const s = 768 / Math.min(w, h);
    w *= s;
    h *= s;
  }
  return 85 + 170 * Math.ceil(w / 512) * Math.ceil(h / 512);
}

/** Width/height from the first bytes of a PNG, GIF, WebP or JPEG `data:` URL; undefined otherwise. */
export function dataUrlImageSize(url: string): { w: number; h: number } | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0 || comma > 200 || !url.slice(0, comma).includes(';base64')) return undefined;
  // 64 KiB of base64 is enough to reach a JPEG SOF in nearly every real file.
  const b = Buffer.from(url.slice(comma + 1, comma + 1 + 87384), 'base64');
  try {
    if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
    if (b.length >= 10 && b.toString('latin1', 0, 3) === 'GIF') return { w: b.readUInt16LE(6), h: b.readUInt16LE(8) };
    if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
      const kind = b.toString('latin1', 12, 16);
      if (kind === 'VP8X') return { w: 1 + b.readUIntLE(24, 3), h: 1 + b.readUIntLE(27, 3) };
      if (kind === 'VP8 ') return { w: b.readUInt16LE(26) & 0x3fff, h: b.readUInt16LE(28) & 0x3fff };
      if (kind === 'VP8L') {
        const bits = b.readUInt32LE(21);
        return { w: (bits & 0x3fff) + 1, h: ((bits >> 14) & 0x3fff) + 1 };
      }
      return undefined;
    }
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
      let i = 2;
      while (i + 9 < b.length) {
        if (b[i] !== 0xff) return undefined;
        const marker = b[i + 1] as number;
        const len = b.readUInt16BE(i + 2);
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          return { h: b.readUInt16BE(i + 5), w: b.readUInt16BE(i + 7) };
        }
        i += 2 + len;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * Accumulates an input-token count and stops early once over `limit` (the caller refuses
 * anyway, so the rest of a huge input is never tokenized).
 */
export class TokenCounter {
  total = 0;
  constructor(
    readonly enc: EncodingName,
    readonly limit: number,
  ) {}
  get over(): boolean {
    return this.total > this.limit;
  }
  text(s: string | undefined | null): void {
    if (this.over || typeof s !== 'string' || s.length === 0) return;
    // A string that cannot fit even at the best ratio (~1 token per 8 chars never happens for
    // real text; we count it anyway) is counted with an early exit.
    const remaining = this.limit - this.total;
    const r = this.enc === 'o200k_base' ? o200k.isWithinTokenLimit(s, remaining, OPTS) : cl100k.isWithinTokenLimit(s, remaining, OPTS);
    this.total += r === false ? remaining + 1 : r;
  }
  add(n: number): void {
    this.total += n;
  }
}
