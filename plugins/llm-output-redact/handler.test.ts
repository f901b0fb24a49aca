/**
 * llm-output-redact through the Kong-protocol host (real kong-js-pluginserver) with the mock LLM:
 * JSON and SSE redaction end to end, usage into llm.usage, gzip upstream, block → 502,
 * malformed bodies passing through, PDK call counts, no content in logs or events.
 * Needs `node scripts/build.mjs llm-output-redact llm-input-guard` (npm test builds everything).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import Redis from 'ioredis';
import { startKongHost, type DeclarativeConfig, type KongHost } from '../../test/harness/kong-host';
import { startMockLlm, type MockLlm } from '../../test/harness/mock-llm';

const CANARY_EMAIL = 'canary.person.7f3a@leak-test.example.org';
const CANARY_CARD = '4111 1111 1111 1111';
const PREFIX = `llg:t:redact-handler:${randomBytes(4).toString('hex')}:`;

const USAGE_LOGGER = `return function()
  kong.log.notice("usage=" .. tostring(kong.ctx.shared["llm.usage"]))
end`;

let llm: MockLlm;
let odd: Server; // an upstream answering malformed / non-JSON bodies
let oddUrl: string;
let host: KongHost;
const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });

function config(): DeclarativeConfig {
  const redact = (extra: Record<string, unknown> = {}) => ({
    name: 'llm-output-redact',
    config: { events: { enabled: true, redis_key_prefix: PREFIX }, ...extra },
  });
  const usageLog = { name: 'post-function', config: { log: [USAGE_LOGGER] } };
  const guard = { name: 'llm-input-guard', config: { require_identity: false } };
  return {
    _format_version: '3.0',
    services: [
      {
        name: 'llm',
        url: llm.url,
        routes: [
          { name: 'redact', paths: ['/v1'], strip_path: false, plugins: [guard, redact(), usageLog] },
        ],
      },
      {
        name: 'llm-v1',
        url: `${llm.url}/v1`,
        routes: [
          { name: 'block', paths: ['/block'], plugins: [guard, redact({ entities: { credit_card: 'block' } }), usageLog] },
          { name: 'usage-only', paths: ['/usage'], plugins: [guard, redact({ mode: 'usage_only' }), usageLog] },
        ],
      },
      { name: 'odd', url: oddUrl, routes: [{ name: 'odd', paths: ['/odd'], plugins: [redact()] }] },
    ],
  };
}

beforeAll(async () => {
  llm = await startMockLlm();
  odd = createServer((req, res) => {
    if (req.url?.includes('malformed')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"choices":[{"message":{"content":"${CANARY_EMAIL}"`);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<p>${CANARY_EMAIL}</p>`);
    }
  });
  await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
  oddUrl = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
  await redis.connect();
  host = await startKongHost({ config: config() });
}, 60_000);

afterAll(async () => {
  await host?.stop();
  await llm?.stop();
  await new Promise<void>((r) => odd.close(() => r()));
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const chat = (path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${host.proxyUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }) });

const usageLines = () => host.logs.filter((l) => l.message.startsWith('usage=')).map((l) => l.message);

describe('llm-output-redact through the host', () => {
  it('JSON: content redacted, Content-Length right, usage in llm.usage, 5 PDK calls', async () => {
    llm.enqueue({ content: `Sure: mail ${CANARY_EMAIL} and card ${CANARY_CARD}.`, usage: { prompt_tokens: 9, completion_tokens: 21 } });
    const before = usageLines().length;
    const r = await chat('/v1/chat/completions', {});
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    const o = JSON.parse(text);
    expect(o.choices[0].message.content).toBe('Sure: mail [EMAIL_1] and card [CREDIT_CARD_1].');
    expect(o.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 21 });
    await expect.poll(() => usageLines().length).toBeGreaterThan(before);
    expect(JSON.parse(usageLines().at(-1)!.slice(6))).toMatchObject({ v: 1, prompt_tokens: 9, completion_tokens: 21, total_tokens: 30 });
    const trace = host.traces.at(-1)!;
    const calls = trace.pdkCalls.filter((c) => c.plugin === 'llm-output-redact').map((c) => c.method);
    expect(calls).toEqual(['kong.service.response.get_status', 'kong.service.response.get_headers', 'kong.service.response.get_raw_body', 'kong.ctx.shared.get', 'kong.ctx.shared.set', 'kong.response.exit']);
  });

  it('JSON without entities: body passed as is (no exit)', async () => {
    llm.enqueue({ content: 'Nothing sensitive, version 10.2.3.4.' });
    const r = await chat('/v1/chat/completions', {});
    const o = (await r.json()) as any;
    expect(o.choices[0].message.content).toBe('Nothing sensitive, version 10.2.3.4.');
    expect(host.traces.at(-1)!.source).toBe('service');
  });

  it('SSE: an email split across chunks is redacted; valid SSE; injected usage chunk dropped; usage settled', async () => {
    llm.enqueue({ content: `Write to ${CANARY_EMAIL} today.`, chunkSize: 3, usage: { prompt_tokens: 4, completion_tokens: 12 } });
    const before = usageLines().length;
    const r = await chat('/v1/chat/completions', { stream: true });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    const text = await r.text();
    expect(text).not.toContain('canary');
    const events = text.split('\n\n').filter((b) => b.length > 0);
    expect(events.at(-1)).toBe('data: [DONE]');
    let content = '';
    for (const e of events.slice(0, -1)) {
      const o = JSON.parse(e.slice(6));
      expect(o.choices.length).toBeGreaterThan(0); // the usage chunk (choices: []) is gone
      content += o.choices[0].delta.content ?? '';
    }
    expect(content).toBe('Write to [EMAIL_1] today.');
    // llm-input-guard injected include_usage upstream
    expect((llm.requests.at(-1)!.body as any).stream_options).toEqual({ include_usage: true });
    await expect.poll(() => usageLines().length).toBeGreaterThan(before);
    expect(JSON.parse(usageLines().at(-1)!.slice(6))).toMatchObject({ prompt_tokens: 4, completion_tokens: 12 });
  });

  it('SSE read by the official openai client (the client asked for usage: the chunk stays)', async () => {
    llm.enqueue({ content: `Card ${CANARY_CARD} on file, email ${CANARY_EMAIL}.`, chunkSize: 5 });
    const client = new OpenAI({ baseURL: `${host.proxyUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let content = '';
    let usage: unknown;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(content).toBe('Card [CREDIT_CARD_1] on file, email [EMAIL_1].');
    expect(usage).toBeDefined();
  });

  it('responses API (JSON and streamed) and legacy completions', async () => {
    const post = (path: string, body: Record<string, unknown>) =>
      fetch(`${host.proxyUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', ...body }) });
    llm.enqueue({ content: `r ${CANARY_EMAIL}` });
    const rj = (await (await post('/v1/responses', { input: 'hi' })).json()) as any;
    expect(JSON.stringify(rj)).not.toContain('canary');
    expect(rj.output[0].content[0].text).toBe('r [EMAIL_1]');
    llm.enqueue({ content: `stream ${CANARY_EMAIL} end`, chunkSize: 4 });
    const rs = await (await post('/v1/responses', { input: 'hi', stream: true })).text();
    expect(rs).not.toContain('canary');
    const deltas = rs
      .split('\n\n')
      .filter((b) => b.includes('"response.output_text.delta"'))
      .map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)).delta)
      .join('');
    expect(deltas).toBe('stream [EMAIL_1] end');
    llm.enqueue({ content: `legacy ${CANARY_CARD}` });
    const lc = (await (await post('/v1/completions', { prompt: 'hi' })).json()) as any;
    expect(lc.choices[0].text).toBe('legacy [CREDIT_CARD_1]');
  });

  it('gzip upstream: decoded, redacted, re-encoded', async () => {
    llm.enqueue({ content: `gz ${CANARY_EMAIL}`, contentEncoding: 'gzip' });
    const r = await chat('/v1/chat/completions', {}, { 'accept-encoding': 'gzip' });
    expect(r.headers.get('content-encoding')).toBe('gzip');
    const o = (await r.json()) as any; // fetch decodes gzip
    expect(o.choices[0].message.content).toBe('gz [EMAIL_1]');
  });

  it('block → 502 OpenAI error, nothing of the completion leaks', async () => {
    llm.enqueue({ content: `Your card ${CANARY_CARD} and ${CANARY_EMAIL}` });
    const r = await chat('/block/chat/completions', {});
    expect(r.status).toBe(502);
    const text = await r.text();
    expect(JSON.parse(text)).toEqual({ error: { message: 'The response was withheld by policy.', type: 'policy_error', code: 'response_withheld', param: null } });
    expect(text).not.toContain('4111');
  });

  it('usage_only: body untouched, usage settled', async () => {
    llm.enqueue({ content: `keep ${CANARY_EMAIL}`, usage: { prompt_tokens: 2, completion_tokens: 3 } });
    const before = usageLines().length;
    const r = await chat('/usage/chat/completions', {});
    expect(((await r.json()) as any).choices[0].message.content).toBe(`keep ${CANARY_EMAIL}`);
    await expect.poll(() => usageLines().length).toBeGreaterThan(before);
    expect(JSON.parse(usageLines().at(-1)!.slice(6))).toMatchObject({ prompt_tokens: 2, completion_tokens: 3 });
  });

  it('malformed JSON and non-JSON upstream bodies pass through unchanged, never a 500', async () => {
    const m = await fetch(`${host.proxyUrl}/odd/malformed`, { method: 'POST', body: '{}' });
    expect(m.status).toBe(200);
    expect(await m.text()).toBe(`{"choices":[{"message":{"content":"${CANARY_EMAIL}"`);
    const h = await fetch(`${host.proxyUrl}/odd/html`);
    expect(h.status).toBe(200);
    expect(await h.text()).toBe(`<p>${CANARY_EMAIL}</p>`);
    expect(host.logs.some((l) => l.plugin === 'llm-output-redact' && l.message.includes('malformed JSON response passed through'))).toBe(true);
  });

  it('redact events carry counts per entity, never values; no canary in any log line', async () => {
    const key = `${PREFIX}events`;
    await expect.poll(async () => (await redis.xlen(key)) > 0).toBe(true);
    const entries = await redis.xrange(key, '-', '+');
    const flat = JSON.stringify(entries);
    expect(flat).not.toContain('canary');
    expect(flat).not.toContain('4111');
    const events = entries.map(([, fields]) => Object.fromEntries(fields.reduce<string[][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, fields[i + 1] as string]]), [])));
    expect(events.some((e) => e.type === 'redact' && e.outcome === 'redacted' && Number(e.n_email) >= 1)).toBe(true);
    expect(events.some((e) => e.outcome === 'blocked' && e.n_credit_card === '1')).toBe(true);
    const logs = JSON.stringify(host.logs);
    expect(logs).not.toContain('canary.person');
    expect(logs).not.toContain(CANARY_CARD);
  });
});
