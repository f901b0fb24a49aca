import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { brotliCompressSync, gunzipSync, gzipSync, brotliDecompressSync } from 'node:zlib';
import { prepare, processResponse, type ResponseInput } from './process';
import { chatJson, chatSse, config, jsonHeaders, llmRequest, sseContent, sseEventCount, sseHeaders, USAGE } from './testkit';
import { genCard, genEmail, genIban, mulberry32 } from '../../test/data/pii/generate';

const P = prepare(config());
const run = (body: string | Buffer, headers: Record<string, string[]> = jsonHeaders, extra: Partial<ResponseInput> = {}, p = P) =>
  processResponse(p, { status: 200, headers, body: typeof body === 'string' ? Buffer.from(body) : body, ...extra });
const json = (b: Buffer | undefined) => JSON.parse((b as Buffer).toString('utf8'));

describe('JSON responses', () => {
  it('redacts message content, keeps the shape, sets Content-Length, reads usage', () => {
    const d = run(chatJson('Mail bob@example.com or call +1 (415) 555-2671.'));
    expect(d.action).toBe('replace');
    const o = json(d.body);
    expect(o.choices[0].message.content).toBe('Mail [EMAIL_1] or call [PHONE_1].');
    expect(o.id).toBe('chatcmpl-1');
    expect(d.headers?.['content-length']).toBe(String(d.body?.length));
    expect(d.usage).toEqual({ ...USAGE, model: 'gpt-4o-mini' });
    expect(d.event).toMatchObject({ outcome: 'redacted', format: 'json', findings: 2, n_email: 1, n_phone: 1 });
    expect(JSON.stringify(d.event)).not.toContain('bob');
  });

  it('leaves a clean body untouched (no exit) and still reads usage', () => {
    const d = run(chatJson('Nothing to see here, version 10.2.3.4.'));
    expect(d.action).toBe('pass');
    expect(d.body).toBeUndefined();
    expect(d.usage?.completion_tokens).toBe(7);
    expect(d.event.outcome).toBe('clean');
  });

  it('covers tool-call arguments, legacy text, content parts and the responses API; numbering shared across choices', () => {
    const chat = {
      choices: [
        { index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'send', arguments: '{"to":"bob@example.com"}' } }] } },
        { index: 1, message: { role: 'assistant', content: [{ type: 'text', text: 'cc bob@example.com and ann@example.com' }] } },
      ],
    };
    const o = json(run(JSON.stringify(chat)).body);
    expect(o.choices[0].message.tool_calls[0].function.arguments).toBe('{"to":"[EMAIL_1]"}');
    expect(o.choices[0].message.tool_calls[0].function.name).toBe('send');
    expect(o.choices[1].message.content[0].text).toBe('cc [EMAIL_1] and [EMAIL_2]');
    const legacy = { object: 'text_completion', choices: [{ index: 0, text: 'SSN 219-09-9998' }], usage: USAGE };
    expect(json(run(JSON.stringify(legacy)).body).choices[0].text).toBe('SSN [SSN_1]');
    const responses = {
      object: 'response',
      output: [{ type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'card 4111 1111 1111 1111', annotations: [] }] }],
      usage: { input_tokens: 5, output_tokens: 9, total_tokens: 14 },
    };
    const r = run(JSON.stringify(responses));
    expect(json(r.body).output[0].content[0].text).toBe('card [CREDIT_CARD_1]');
    expect(r.usage).toEqual({ prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 });
  });

  it('drops logprobs once something was redacted (they spell the completion token by token)', () => {
    const lp = { content: [{ token: 'bob', logprob: -0.1 }, { token: '@example.com', logprob: -0.2 }] };
    const o = json(run(chatJson('bob@example.com', { choices: [{ index: 0, message: { role: 'assistant', content: 'bob@example.com' }, logprobs: lp, finish_reason: 'stop' }] })).body);
    expect(o.choices[0].logprobs).toBeNull();
    expect(JSON.stringify(o)).not.toContain('bob');
    // clean answers keep them
    expect(run(chatJson('hello', { choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, logprobs: lp, finish_reason: 'stop' }] })).action).toBe('pass');
  });

  it('n > 1: every choice is redacted, numbering shared', () => {
    const doc = { choices: [0, 1, 2].map((i) => ({ index: i, message: { role: 'assistant', content: i === 1 ? 'x ann@example.com' : 'y bob@example.com' } })) };
    const o = json(run(JSON.stringify(doc)).body);
    expect(o.choices.map((c: any) => c.message.content)).toEqual(['y [EMAIL_1]', 'x [EMAIL_2]', 'y [EMAIL_1]']);
  });

  it('block → 502 OpenAI error, nothing of the content in it', () => {
    const p = prepare(config({ entities: { private_key: 'block' } }));
    const d = run(chatJson('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----'), jsonHeaders, {}, p);
    expect(d.action).toBe('block');
    expect(d.status).toBe(502);
    const o = json(d.body);
    expect(o.error.message).toBe('The response was withheld by policy.');
    expect(d.body?.toString()).not.toContain('MIIE');
    expect(d.headers?.['content-type']).toBe('application/json');
    expect(d.event).toMatchObject({ outcome: 'blocked', n_private_key: 1 });
  });

  it('log action: counted, body untouched', () => {
    const d = run(chatJson('server 203.0.113.9 answered'));
    expect(d.action).toBe('pass');
    expect(d.event).toMatchObject({ outcome: 'logged', n_ip_address: 1 });
  });

  it('gzip and br bodies are decoded, redacted and re-encoded the same way', () => {
    for (const [enc, z, unz] of [['gzip', gzipSync, gunzipSync], ['br', brotliCompressSync, brotliDecompressSync]] as const) {
      const d = run(z(Buffer.from(chatJson('to bob@example.com'))), { ...jsonHeaders, 'content-encoding': [enc] });
      expect(d.action).toBe('replace');
      expect(d.headers?.['content-encoding']).toEqual([enc]);
      expect(JSON.parse(unz(d.body as Buffer).toString()).choices[0].message.content).toBe('to [EMAIL_1]');
      expect(d.usage?.prompt_tokens).toBe(11);
    }
  });

  it('malformed JSON, non-JSON and unknown encodings pass through with a log line, never an error', () => {
    const bad = run('{"choices": [ {"message": bob@example.com');
    expect(bad).toMatchObject({ action: 'pass', event: { outcome: 'passthrough_malformed' }, log: { level: 'warn' } });
    expect(bad.log?.message).not.toContain('bob');
    expect(run('plain text bob@example.com', { 'content-type': ['text/plain'] })).toMatchObject({ action: 'pass', event: { outcome: 'passthrough_other' } });
    expect(run(Buffer.from([0x1f, 0x8b, 1, 2, 3]), { ...jsonHeaders, 'content-encoding': ['gzip'] })).toMatchObject({ action: 'block', status: 502, event: { outcome: 'oversize' } });
    const zstd = run('x', { ...jsonHeaders, 'content-encoding': ['zstd'] });
    expect(zstd).toMatchObject({ action: 'block', status: 502, headers: { 'content-encoding': 'identity' } });
    expect(JSON.parse((zstd.body as Buffer).toString()).error.code).toBe('response_withheld');
    expect(run('x', { ...jsonHeaders, 'content-encoding': ['zstd'] }, {}, prepare(config({ oversize: 'pass' })))).toMatchObject({ action: 'pass', event: { outcome: 'oversize' } });
  });

  it('bodies over max_body_bytes (also after decompression) are withheld by default', () => {
    const p = prepare(config({ max_body_bytes: 1024 }));
    const big = chatJson('a'.repeat(5000));
    expect(run(big, jsonHeaders, {}, p)).toMatchObject({ action: 'block', status: 502 });
    expect(run(gzipSync(Buffer.from(big)), { ...jsonHeaders, 'content-encoding': ['gzip'] }, {}, p)).toMatchObject({ action: 'block' });
  });

  it('usage_only: usage read, body never touched', () => {
    const p = prepare(config({ mode: 'usage_only' }));
    const d = run(chatJson('bob@example.com'), jsonHeaders, {}, p);
    expect(d).toMatchObject({ action: 'pass', usage: { prompt_tokens: 11 }, event: { outcome: 'usage_only' } });
    const s = run(chatSse(['bob@exa', 'mple.com'], { usage: true }), sseHeaders, { request: llmRequest({ include_usage_injected: true }) }, p);
    expect(s).toMatchObject({ action: 'pass', usage: { completion_tokens: 7 } });
  });

  it('upstream errors are not inspected', () => {
    expect(processResponse(P, { status: 500, headers: jsonHeaders, body: Buffer.from('{"error":{"message":"bob@example.com"}}') })).toMatchObject({ action: 'pass', event: { outcome: 'skipped_status' } });
  });

  it('hash replacement is stable across responses', () => {
    const p = prepare(config({ replacement: 'hash', salt: 'a-long-enough-salt-value' }));
    const a = json(run(chatJson('bob@example.com'), jsonHeaders, {}, p).body).choices[0].message.content;
    const b = json(run(chatJson('again bob@example.com'), jsonHeaders, {}, p).body).choices[0].message.content;
    expect(a).toMatch(/^\[EMAIL_[0-9a-f]{12}\]$/);
    expect(b).toBe(`again ${a}`);
    expect(() => prepare(config({ replacement: 'hash' }))).toThrow();
  });
});

describe('SSE responses', () => {
  it('finds an email split over several chunks; same event boundaries; [DONE] kept', () => {
    const body = chatSse(['Write to b', 'ob@exam', 'ple.com', ' today.']);
    const d = run(body, sseHeaders, { request: llmRequest() });
    expect(d.action).toBe('replace');
    const out = (d.body as Buffer).toString();
    expect(sseContent(out)).toBe('Write to [EMAIL_1] today.');
    expect(sseEventCount(out)).toBe(sseEventCount(body));
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(out).not.toMatch(/bob|exam|ple\.com/);
    expect(d.event).toMatchObject({ format: 'sse', n_email: 1 });
  });

  it('SSE with two choices interleaved: each rebuilt on its own; logprobs dropped', () => {
    const ev = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const d = (i: number, content: string) => ({ choices: [{ index: i, delta: { content }, logprobs: { content: [{ token: content, logprob: -1 }] } }] });
    const body = ev(d(0, 'a bob@')) + ev(d(1, 'b ann@ex')) + ev(d(0, 'example.com')) + ev(d(1, 'ample.com')) + 'data: [DONE]\n\n';
    const out = (run(body, sseHeaders).body as Buffer).toString();
    const per: string[] = ['', ''];
    for (const b of out.split('\n\n')) {
      if (!b.startsWith('data: {')) continue;
      const o = JSON.parse(b.slice(6));
      per[o.choices[0].index] += o.choices[0].delta.content;
      expect(o.choices[0].logprobs).toBeNull();
    }
    expect(per).toEqual(['a [EMAIL_1]', 'b [EMAIL_2]']);
  });

  it('keeps CRLF framing', () => {
    const out = (run(chatSse(['x bob@example.com'], { crlf: true }), sseHeaders).body as Buffer).toString();
    expect(out).toContain('\r\n\r\n');
    expect(out).not.toMatch(/[^\r]\n/);
    expect(sseContent(out)).toBe('x [EMAIL_1]');
  });

  it('drops the usage chunk llm-input-guard injected, keeps it when the client asked, reads usage either way', () => {
    const body = chatSse(['hello'], { usage: true });
    const injected = run(body, sseHeaders, { request: llmRequest({ include_usage_injected: true }) });
    expect(injected.action).toBe('replace');
    expect(sseEventCount((injected.body as Buffer).toString())).toBe(sseEventCount(body) - 1);
    expect((injected.body as Buffer).toString()).not.toContain('"prompt_tokens"');
    expect(injected.usage?.total_tokens).toBe(18);
    expect(injected.event.usage_chunk_dropped).toBe(true);
    const asked = run(body, sseHeaders, { request: llmRequest({ include_usage_injected: false }) });
    expect(asked.action).toBe('pass');
    expect(asked.usage?.total_tokens).toBe(18);
  });

  it('tool-call argument deltas are rebuilt per tool call', () => {
    const ev = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const tc = (i: number, args: string) => ({ choices: [{ index: 0, delta: { tool_calls: [{ index: i, function: { arguments: args } }] } }] });
    const body = ev(tc(0, '{"to":"bob@')) + ev(tc(1, '{"card":"4111 1111 ')) + ev(tc(0, 'example.com"}')) + ev(tc(1, '1111 1111"}')) + 'data: [DONE]\n\n';
    const out = (run(body, sseHeaders).body as Buffer).toString();
    const args: string[] = ['', ''];
    for (const b of out.split('\n\n')) {
      if (!b.startsWith('data: {')) continue;
      const o = JSON.parse(b.slice(6));
      for (const t of o.choices[0].delta.tool_calls) args[t.index] += t.function.arguments;
    }
    expect(args).toEqual(['{"to":"[EMAIL_1]"}', '{"card":"[CREDIT_CARD_1]"}']);
  });

  it('responses API stream: deltas and the done/completed events agree', () => {
    const ev = (type: string, o: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
    const body =
      ev('response.output_text.delta', { item_id: 'm1', output_index: 0, content_index: 0, delta: 'mail bob@ex' }) +
      ev('response.output_text.delta', { item_id: 'm1', output_index: 0, content_index: 0, delta: 'ample.com ok' }) +
      ev('response.output_text.done', { item_id: 'm1', output_index: 0, content_index: 0, text: 'mail bob@example.com ok' }) +
      ev('response.completed', { response: { output: [{ type: 'message', content: [{ type: 'output_text', text: 'mail bob@example.com ok' }] }], usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } } });
    const d = run(body, sseHeaders);
    const out = (d.body as Buffer).toString();
    expect(out).not.toContain('bob');
    const deltas = out.split('\n\n').filter((b) => b.includes('output_text.delta')).map((b) => JSON.parse(b.split('data: ')[1] as string).delta).join('');
    expect(deltas).toBe('mail [EMAIL_1] ok');
    expect(out).toContain('"text":"mail [EMAIL_1] ok"');
    expect(out.match(/^event: /gm)?.length).toBe(4);
    expect(d.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('a malformed chunk makes the stream pass unchanged with a log line', () => {
    const body = `${chatSse(['bob@example.com'])}data: {not json\n\n`;
    expect(run(body, sseHeaders)).toMatchObject({ action: 'pass', event: { outcome: 'passthrough_malformed', format: 'sse' } });
  });

  it('property: an SSE stream split at every possible chunk boundary gives the same text as the JSON response', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom('email', 'card', 'iban', 'two'),
        fc.stringMatching(/^[a-zA-Z ,.]{0,30}$/),
        fc.stringMatching(/^[a-zA-Z ,.]{0,30}$/),
        (seed, kind, pre, post) => {
          const r = mulberry32(seed);
          const v = kind === 'email' ? genEmail(r) : kind === 'card' ? genCard(r) : kind === 'iban' ? genIban(r) : `${genEmail(r)} and ${genEmail(r)} and again ${genCard(r)}`;
          const content = `${pre} ${v} ${post}`;
          const expected = json(run(chatJson(content)).body).choices[0].message.content as string;
          // every two-piece split, and every fixed chunk size
          const splits: string[][] = [];
          for (let k = 1; k < content.length; k++) splits.push([content.slice(0, k), content.slice(k)]);
          for (let size = 1; size <= 9; size++) splits.push(content.match(new RegExp(`[\\s\\S]{1,${size}}`, 'g')) as string[]);
          for (const pieces of splits) {
            const out = run(chatSse(pieces), sseHeaders);
            expect(sseContent((out.body as Buffer).toString())).toBe(expected);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
