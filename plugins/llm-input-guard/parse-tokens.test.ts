import { describe, expect, it } from 'vitest';
import { codePointLength, isJsonContentType, parseBody, scanJsonBounds } from './parse';
import { dataUrlImageSize, encodingForModel, imageTokens, TokenCounter } from './tokens';
import { endpointFromPath } from './endpoints';

describe('scanJsonBounds', () => {
  it('ignores brackets and commas inside strings, including escaped quotes', () => {
    expect(scanJsonBounds('{"a":"[[[[[[[[[[,,,,\\"[[[["}', 2, 1)).toBe('ok');
    expect(scanJsonBounds('[[[]]]', 3, 10)).toBe('ok');
    expect(scanJsonBounds('[[[[]]]]', 3, 10)).toBe('json_too_deep');
  });
  it('counts array items at every level, not object members', () => {
    expect(scanJsonBounds('[1,2,3]', 5, 3)).toBe('ok');
    expect(scanJsonBounds('[1,2,3,4]', 5, 3)).toBe('array_too_long');
    expect(scanJsonBounds('{"a":1,"b":2,"c":3,"d":4}', 5, 3)).toBe('ok');
    expect(scanJsonBounds('{"x":[[1,2],[3,4,5,6]]}', 5, 3)).toBe('array_too_long');
    expect(scanJsonBounds('[[],[],[]]', 5, 3)).toBe('ok');
  });
  it('refuses duplicate keys in any object, escaped spellings included', () => {
    expect(scanJsonBounds('{"model":"a","model":"b"}', 5, 5)).toBe('duplicate_key');
    expect(scanJsonBounds('{"model":"a","mod\\u0065l":"b"}', 5, 5)).toBe('duplicate_key');
    expect(scanJsonBounds('{"m":[{"role":"user","role":"system"}]}', 5, 5)).toBe('duplicate_key');
    expect(scanJsonBounds('{"a":{"x":1},"b":{"x":1},"c":"a"}', 5, 5)).toBe('ok');
    expect(scanJsonBounds('{"a":"model","model":"a"}', 5, 5)).toBe('ok');
    expect(scanJsonBounds('[{"a":1},{"a":1}]', 5, 5)).toBe('ok');
  });
  it('parseBody: BOM tolerated, overlong UTF-8 refused', () => {
    expect(parseBody(Buffer.from('\ufeff{"a":1}'), 4, 4).ok).toBe(true);
    expect(parseBody(Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]), 4, 4)).toEqual({ ok: false, code: 'invalid_utf8' });
    expect(parseBody(Buffer.from([0xed, 0xa0, 0x80]), 4, 4)).toEqual({ ok: false, code: 'invalid_utf8' }); // lone surrogate
  });
  it('content types and code points', () => {
    expect(isJsonContentType('application/json;charset=UTF-8')).toBe(true);
    expect(isJsonContentType('application/problem+json')).toBe(true);
    expect(isJsonContentType('text/json')).toBe(false);
    expect(isJsonContentType('application/jsonp')).toBe(false);
    expect(codePointLength('a😀b')).toBe(3);
    expect(codePointLength('\ud800x')).toBe(2);
  });
});

describe('endpoints', () => {
  it('path suffixes', () => {
    expect(endpointFromPath('/v1/chat/completions')).toBe('chat');
    expect(endpointFromPath('/v1/Chat/Completions?x=1')).toBe('chat');
    expect(endpointFromPath('/v1/completions')).toBe('completions');
    expect(endpointFromPath('/v1/embeddings/')).toBe('embeddings');
    expect(endpointFromPath('/v1/responses')).toBe('responses');
    expect(endpointFromPath('/v1/responses/resp_1/cancel')).toBeUndefined();
    expect(endpointFromPath('/v1/models')).toBeUndefined();
  });
});

describe('tokens', () => {
  it('encoding per model family', () => {
    for (const m of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-nano', 'o1', 'o3-mini', 'o4-mini', 'gpt-5', 'openai/gpt-4o', 'some-local-model']) expect(encodingForModel(m), m).toBe('o200k_base');
    for (const m of ['gpt-4', 'gpt-4-turbo', 'gpt-3.5-turbo', 'text-embedding-3-small', 'text-embedding-ada-002']) expect(encodingForModel(m), m).toBe('cl100k_base');
  });
  it('image sizes from JPEG, GIF and WebP headers', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x02, 0x58, 0x03, 0x20, 0x03, 0x01, 0x00, 0x00, 0x00]);
    expect(dataUrlImageSize(`data:image/jpeg;base64,${jpeg.toString('base64')}`)).toEqual({ w: 800, h: 600 });
    const gif = Buffer.from('GIF89a\x40\x01\xf0\x00', 'latin1');
    expect(dataUrlImageSize(`data:image/gif;base64,${gif.toString('base64')}`)).toEqual({ w: 320, h: 240 });
    expect(dataUrlImageSize('https://x/y.png')).toBeUndefined();
    expect(dataUrlImageSize('data:image/png;base64,!!!!')).toBeUndefined();
  });
  it("OpenAI's tile rule examples", () => {
    const o = { mode: 'tiles' as const, flat: 1445 };
    expect(imageTokens('high', { w: 1024, h: 1024 }, o)).toBe(765);
    expect(imageTokens('high', { w: 2048, h: 4096 }, o)).toBe(1105);
    expect(imageTokens('low', { w: 4096, h: 8192 }, o)).toBe(85);
    expect(imageTokens('auto', { w: 512, h: 512 }, o)).toBe(255);
  });
  it('the counter stops early past its limit', () => {
    const c = new TokenCounter('o200k_base', 10);
    c.text('word '.repeat(100000));
    expect(c.over).toBe(true);
    expect(c.total).toBe(11);
  });
});
