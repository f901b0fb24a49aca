/**
 * Body parsing with bounds, before anything looks inside: strict UTF-8, a linear pre-scan that
 * bounds nesting depth and array lengths (so JSON.parse never sees a 100k-deep or 1M-item
 * document), then JSON.parse. Pure; never throws.
 */

export type ParseResult =
  | { ok: true; value: unknown; text: string }
  | { ok: false; code: 'invalid_utf8' | 'invalid_json' | 'json_too_deep' | 'array_too_long' | 'duplicate_key' };

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const ARRAY_EMPTY = -1;
const OBJECT = -2;

/**
 * One linear pass over JSON text, before JSON.parse: nesting depth, array lengths, and duplicate
 * keys in any object. Duplicates are refused because parsers disagree on them (JSON.parse keeps
 * the last, others the first): `{"model":"allowed","model":"other"}` must not mean one thing
 * here and another upstream. Does not validate the JSON otherwise (JSON.parse does).
 */
export function scanJsonBounds(text: string, maxDepth: number, maxArrayItems: number): 'ok' | 'json_too_deep' | 'array_too_long' | 'duplicate_key' {
  // Per open container: arrays hold their item count (ARRAY_EMPTY until the first item),
  // objects hold OBJECT; `keys[depth]` is that object's key set, `expectKey[depth]` whether the
  // next string is a key.
  const stack: number[] = [];
  const keys: Array<Set<string> | undefined> = [];
  const expectKey: boolean[] = [];
  let inString = false;
  let stringStart = 0;
  let stringHasEscape = false;
  let stringIsKey = false;
  const firstItem = () => {
    const top = stack.length - 1;
    if (top >= 0 && stack[top] === ARRAY_EMPTY) stack[top] = 1;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) {
        stringHasEscape = true;
        i++;
      } else if (c === 0x22) {
        inString = false;
        if (stringIsKey) {
          const top = stack.length - 1;
          let key = text.slice(stringStart + 1, i);
          if (stringHasEscape) {
            try {
              key = JSON.parse(text.slice(stringStart, i + 1)) as string;
            } catch {
              return 'ok'; // malformed: JSON.parse will refuse the document
            }
          }
          let set = keys[top];
          if (!set) keys[top] = set = new Set();
          if (set.has(key)) return 'duplicate_key';
          set.add(key);
          expectKey[top] = false;
        }
      }
      continue;
    }
    switch (c) {
      case 0x22: {
        // "
        const top = stack.length - 1;
        inString = true;
        stringStart = i;
        stringHasEscape = false;
        stringIsKey = top >= 0 && stack[top] === OBJECT && expectKey[top] === true;
        firstItem();
        break;
      }
      case 0x5b: // [
      case 0x7b: // {
        firstItem();
        if (stack.length >= maxDepth) return 'json_too_deep';
        stack.push(c === 0x5b ? ARRAY_EMPTY : OBJECT);
        keys[stack.length - 1] = undefined;
        expectKey[stack.length - 1] = c === 0x7b;
        break;
      case 0x5d: // ]
      case 0x7d: // }
        stack.pop();
        break;
      case 0x2c: {
        // ,
        const top = stack.length - 1;
        if (top < 0) break;
        const v = stack[top] as number;
        if (v === OBJECT) expectKey[top] = true;
        else if (v >= 0) {
          if (v + 1 > maxArrayItems) return 'array_too_long';
          stack[top] = v + 1;
        }
        break;
      }
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
      case 0x3a: // :
        break;
      default:
        // a scalar (number, true, false, null) starts an array's first item
        firstItem();
    }
  }
  return 'ok';
}

export function parseBody(body: Buffer, maxDepth: number, maxArrayItems: number): ParseResult {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    return { ok: false, code: 'invalid_utf8' };
  }
  const bounds = scanJsonBounds(text, maxDepth, maxArrayItems);
  if (bounds !== 'ok') return { ok: false, code: bounds };
  try {
    return { ok: true, value: JSON.parse(text), text };
  } catch {
    return { ok: false, code: 'invalid_json' };
  }
}

/** Content-Type is JSON: application/json or any application/*+json, parameters ignored. */
export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const base = ct.split(';', 1)[0]!.trim().toLowerCase();
  return base === 'application/json' || (base.startsWith('application/') && base.endsWith('+json'));
}

/** Code points of a string (what "characters" means for the per-message limit). */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
