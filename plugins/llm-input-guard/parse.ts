/**
 * Body parsing with bounds, before anything looks inside: strict UTF-8, a linear pre-scan that
 * bounds nesting depth and array lengths (so JSON.parse never sees a 100k-deep or 1M-item
 * document), then JSON.parse. Pure; never throws.
 */

export type ParseResult =
  | { ok: true; value: unknown; text: string }
  | { ok: false; code: 'invalid_utf8' | 'invalid_json' | 'json_too_deep' | 'array_too_long' };

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Depth and array-length check over JSON text; does not validate the JSON itself. */
export function scanJsonBounds(text: string, maxDepth: number, maxArrayItems: number): 'ok' | 'json_too_deep' | 'array_too_long' {
  // Stack of containers: for arrays, the number of items seen so far (-1 = empty so far);
  // objects are marked with -2.
  const stack: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
      continue;
    }
    switch (c) {
      case 0x22: // "
        inString = true;
        if (stack.length && stack[stack.length - 1] === -1) stack[stack.length - 1] = 1;
        break;
      case 0x5b: // [
      case 0x7b: // {
        if (stack.length && stack[stack.length - 1] === -1) stack[stack.length - 1] = 1;
        if (stack.length >= maxDepth) return 'json_too_deep';
        stack.push(c === 0x5b ? -1 : -2);
        break;
      case 0x5d: // ]
      case 0x7d: // }
        stack.pop();
        break;
      case 0x2c: {
        // ,
        const top = stack.length - 1;
        if (top >= 0 && (stack[top] as number) >= 0) {
          const n = (stack[top] as number) + 1;
          if (n > maxArrayItems) return 'array_too_long';
          stack[top] = n;
        }
        break;
      }
      case 0x20:
      case 0x09:
      case 0x0a:
      case 0x0d:
        break;
      default:
        // a scalar (number, true, false, null) starts an array's first item
        if (stack.length && stack[stack.length - 1] === -1) stack[stack.length - 1] = 1;
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
