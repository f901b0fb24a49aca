import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import http from 'node:http';
import zlib from 'node:zlib';
import { defaultContent, estimateTokens, startMockLlm, type MockLlm } from './index';

let llm: MockLlm;
let client: OpenAI;

beforeAll(async () => {
  llm = await startMockLlm();
  client = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-test-canary-secret', maxRetries: 0, timeout: 5_000 });
});
afterAll(async () => {
  await llm.stop();
});
beforeEach(() => llm.reset());

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Raw HTTP request returning status, headers and the raw (undecoded) body. */
function rawRequest(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      `${llm.url}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('mock LLM with the official openai client', () => {
  it('answers a chat completion shaped like OpenAI, echoing the model, with deterministic usage', async () => {
    const messages = [{ role: 'user' as const, content: 'Hello there, mock!' }];
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(typeof res.created).toBe('number');
    expect(res.model).toBe('gpt-4o-mini');
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]!.message.role).toBe('assistant');
    expect(res.choices[0]!.message.content).toBe(defaultContent('gpt-4o-mini'));
    expect(res.choices[0]!.message.content).toContain('gpt-4o-mini');
    expect(res.choices[0]!.finish_reason).toBe('stop');
    const content = defaultContent('gpt-4o-mini');
    expect(res.usage).toEqual({
      prompt_tokens: estimateTokens('Hello there, mock!'),
      completion_tokens: estimateTokens(content),
      total_tokens: estimateTokens('Hello there, mock!') + estimateTokens(content),
    });
    // Recorded, with the parsed body; the answer echoes no secret.
    expect(llm.requests).toHaveLength(1);
    expect(llm.requests[0]!.method).toBe('POST');
    expect(llm.requests[0]!.path).toBe('/v1/chat/completions');
    expect(llm.requests[0]!.headers.authorization).toBe('Bearer sk-test-canary-secret');
    expect(llm.requests[0]!.body).toMatchObject({ model: 'gpt-4o-mini', messages });
    expect(JSON.stringify(res)).not.toContain('canary');
    // Deterministic: same request, same content and usage.
    const again = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(again.choices[0]!.message.content).toBe(res.choices[0]!.message.content);
    expect(again.usage).toEqual(res.usage);
  });

  it('streams a chat completion without a usage chunk unless include_usage', async () => {
    llm.enqueue({ content: 'abcdefghijklmnopqrstuvwxyz', chunkSize: 5 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('abcdefghijklmnopqrstuvwxyz');
    // role chunk + 6 content chunks of <= 5 chars + finish chunk
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(6);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-4o')).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
  });

  it('streams a final usage chunk with choices [] when include_usage is true', async () => {
    llm.enqueue({ content: 'streamed reply', usage: { prompt_tokens: 11, completion_tokens: 7 } });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('streamed reply');
  });

  it('ends the SSE stream with data: [DONE]', async () => {
    const res = await rawRequest('/v1/chat/completions', {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const text = res.body.toString('utf8');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const datas = text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''));
    const usageChunk = JSON.parse(datas.at(-2)!);
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.total_tokens).toBe(usageChunk.usage.prompt_tokens + usageChunk.usage.completion_tokens);
  });

  it('omits usage everywhere when usage is null', async () => {
    llm.enqueue({ usage: null }, { usage: null });
    const res = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(res.usage).toBeUndefined();
    const stream = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('answers embeddings (float and the client default base64) deterministically', async () => {
    const a = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one', 'two'] });
    expect(a.object).toBe('list');
    expect(a.model).toBe('text-embedding-3-small');
    expect(a.data).toHaveLength(2);
    expect(a.data[0]!.embedding).toHaveLength(16);
    expect(a.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
    const b = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'one', encoding_format: 'float', dimensions: 16 });
    expect(b.data[0]!.embedding).toEqual(a.data[0]!.embedding);
    expect(a.data[1]!.embedding).not.toEqual(a.data[0]!.embedding);
  });

  it('answers legacy completions, JSON and streamed', async () => {
    const res = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi' });
    expect(res.object).toBe('text_completion');
    expect(res.id).toMatch(/^cmpl-/);
    expect(res.choices[0]!.text).toBe(defaultContent('gpt-3.5-turbo-instruct'));
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage!.prompt_tokens).toBe(estimateTokens('Say hi'));

    llm.enqueue({ content: 'streamed legacy text' });
    const stream = await client.completions.create({
      model: 'gpt-3.5-turbo-instruct',
      prompt: 'Say hi',
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe('streamed legacy text');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(estimateTokens('streamed legacy text'));
  });

  it('answers the responses API, JSON and streamed', async () => {
    llm.enqueue({ content: 'responses text', usage: { prompt_tokens: 4, completion_tokens: 2 } });
    const r = await client.responses.create({ model: 'gpt-4o', input: 'hello' });
    expect(r.object).toBe('response');
    expect(r.status).toBe('completed');
    expect(r.model).toBe('gpt-4o');
    expect(r.output_text).toBe('responses text');
    expect(r.usage).toMatchObject({ input_tokens: 4, output_tokens: 2, total_tokens: 6 });

    llm.enqueue({ content: 'streamed responses text', chunkSize: 4 });
    const stream = await client.responses.create({ model: 'gpt-4o', input: 'hello', stream: true });
    const types: string[] = [];
    let text = '';
    let completed: unknown;
    for await (const e of stream) {
      types.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
      if (e.type === 'response.completed') completed = e.response;
    }
    expect(text).toBe('streamed responses text');
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect((completed as { usage: { output_tokens: number } }).usage.output_tokens).toBe(estimateTokens('streamed responses text'));
  });

  it('lists models', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(page.data[0]!.object).toBe('model');
  });

  it('answers a tool call, JSON and streamed', async () => {
    const toolCall = { name: 'get_weather', arguments: '{"city":"Paris"}' };
    llm.enqueue({ toolCall }, { toolCall, chunkSize: 3 });
    const res = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'weather?' }] });
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    const call = res.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function).toEqual(toolCall);
    const stream = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'weather?' }], stream: true });
    let args = '';
    let name = '';
    let finish: string | null = null;
    for await (const c of stream) {
      const tc = c.choices[0]?.delta.tool_calls?.[0];
      if (tc?.function?.name) name = tc.function.name;
      args += tc?.function?.arguments ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect({ name, args, finish }).toEqual({ name: 'get_weather', args: toolCall.arguments, finish: 'tool_calls' });
  });
});

describe('steering', () => {
  it('uses queued behaviours first in first out, then the default', async () => {
    llm.setDefault({ content: 'default answer' });
    llm.enqueue({ content: 'first' }, { content: 'second' });
    const ask = async () =>
      (await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).choices[0]!.message.content;
    expect(await ask()).toBe('first');
    expect(await ask()).toBe('second');
    expect(await ask()).toBe('default answer');
    expect(await ask()).toBe('default answer');
  });

  it('is steered by x-mock-* headers (content as base64 UTF-8, usage, chunk size)', async () => {
    const content = 'Grüße 👋 — ünïcödé';
    const res = await client.chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-mock-content': b64(content), 'x-mock-usage': '123,45' } },
    );
    expect(res.choices[0]!.message.content).toBe(content);
    expect(res.usage).toEqual({ prompt_tokens: 123, completion_tokens: 45, total_tokens: 168 });

    const none = await client.chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-mock-usage': 'none' } },
    );
    expect(none.usage).toBeUndefined();

    const stream = await client.chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true },
      { headers: { 'x-mock-content': b64(content), 'x-mock-chunk-size': '1' } },
    );
    const parts: string[] = [];
    for await (const c of stream) if (c.choices[0]?.delta.content) parts.push(c.choices[0].delta.content);
    expect(parts.join('')).toBe(content);
    expect(parts).toHaveLength(Array.from(content).length); // one code point per chunk, emoji intact
  });

  it('headers override the queued behaviour', async () => {
    llm.enqueue({ content: 'queued', status: 500 });
    const res = await client.chat.completions.create(
      { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-mock-status': '200', 'x-mock-content': b64('from header') } },
    );
    expect(res.choices[0]!.message.content).toBe('from header');
  });

  it('answers error statuses with an OpenAI error body (429 / 500 / 401)', async () => {
    llm.enqueue({ status: 429, headers: { 'retry-after': '2' } });
    const err = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(err.headers.get('retry-after')).toBe('2');

    const e500 = await client.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-mock-status': '500' } })
      .catch((e) => e);
    expect(e500).toBeInstanceOf(OpenAI.InternalServerError);
    expect(e500.error.type).toBe('server_error');

    llm.enqueue({ status: 401 });
    const raw = await rawRequest('/v1/embeddings', { model: 'e', input: 'x' });
    expect(raw.status).toBe(401);
    expect(JSON.parse(raw.body.toString())).toEqual({
      error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'invalid_api_key' },
    });
  });

  it('gzips JSON and SSE bodies when asked', async () => {
    llm.enqueue({ contentEncoding: 'gzip', content: 'zipped' }, { contentEncoding: 'gzip', content: 'zipped stream', chunkSize: 2 });
    const json = await rawRequest('/v1/chat/completions', { model: 'm', messages: [] });
    expect(json.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(zlib.gunzipSync(json.body).toString()).choices[0].message.content).toBe('zipped');
    const sse = await rawRequest('/v1/chat/completions', { model: 'm', messages: [], stream: true });
    expect(sse.headers['content-encoding']).toBe('gzip');
    const text = zlib.gunzipSync(sse.body).toString();
    expect(text).toContain('data: [DONE]');
    // And the openai client (fetch decodes gzip) reads it.
    llm.enqueue({ contentEncoding: 'gzip', content: 'zipped for client' });
    const res = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(res.choices[0]!.message.content).toBe('zipped for client');
  });

  it('waits delayMs before answering', async () => {
    llm.enqueue({ delayMs: 300 });
    const fast = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 100 });
    const err = await fast.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    const ok = await client.chat.completions.create({ model: 'm', messages: [] }, { headers: { 'x-mock-delay-ms': '50' } });
    expect(ok.object).toBe('chat.completion');
  });

  it('400s on a body that is not JSON, 404s on unknown paths', async () => {
    const bad = await rawRequest('/v1/chat/completions', '{not json');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).error.type).toBe('invalid_request_error');
    expect(llm.requests.at(-1)!.body).toBe('{not json');
    const nf = await rawRequest('/v1/nope', {});
    expect(nf.status).toBe(404);
  });
});

describe('failure modes', () => {
  it('reset: the connection is reset', async () => {
    llm.enqueue({ fail: 'reset' });
    const err = await client.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    const viaHeader = await rawRequest('/v1/chat/completions', { model: 'm' }, { 'x-mock-fail': 'reset' }).catch((e) => e);
    expect(viaHeader).toBeInstanceOf(Error);
    expect((viaHeader as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  it('timeout: never answers', async () => {
    llm.enqueue({ fail: 'timeout' });
    const fast = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'x', maxRetries: 0, timeout: 300 });
    const err = await fast.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(llm.requests).toHaveLength(1);
  });

  it('hang-after-headers: status and headers arrive, the body never does', async () => {
    llm.enqueue({ fail: 'hang-after-headers' });
    const ac = new AbortController();
    const res = await fetch(`${llm.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [], stream: true }),
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/event-stream/);
    const reader = res.body!.getReader();
    const first = await Promise.race([
      reader.read().then(() => 'data'),
      new Promise((r) => setTimeout(() => r('nothing'), 300)),
    ]);
    expect(first).toBe('nothing');
    ac.abort();
  });

  it('stop() closes hanging connections and frees the port', async () => {
    const other = await startMockLlm();
    other.setDefault({ fail: 'timeout' });
    const pending = fetch(`${other.url}/v1/chat/completions`, { method: 'POST', body: '{}' }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    await other.stop();
    expect(await pending).toBeInstanceOf(Error);
    const again = await startMockLlm({ port: other.port });
    expect(again.url).toBe(`http://127.0.0.1:${other.port}`);
    await again.stop();
  });
});
