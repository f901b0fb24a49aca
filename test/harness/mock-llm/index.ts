/**
 * Deterministic OpenAI-compatible upstream for tests, dev and benchmarks.
 *
 *   const llm = await startMockLlm();          // llm.url = http://127.0.0.1:<port>
 *   const client = new OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'x' });
 *   llm.enqueue({ content: 'hi', usage: { prompt_tokens: 3, completion_tokens: 1 } });
 *   llm.requests                               // every request received
 *   await llm.stop();
 *
 * See README.md beside this file for the endpoints, behaviours and steering headers.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';

export type MockFail = 'reset' | 'timeout' | 'hang-after-headers';

export interface MockUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface MockBehaviour {
  /** Assistant content (default: a fixed sentence naming the request's model). */
  content?: string;
  /** Usage to report; `null` omits usage entirely (JSON field and SSE usage chunk). */
  usage?: MockUsage | null;
  /** Wait this long before answering (before the response headers). */
  delayMs?: number;
  /** Answer with this (error) status and an OpenAI error body. */
  status?: number;
  /** reset = TCP RST, timeout = never answer, hang-after-headers = send headers then nothing. */
  fail?: MockFail;
  /** SSE: characters (code points) of content per delta chunk (default 8). */
  chunkSize?: number;
  /** SSE: wait this long between chunks (default 0). */
  chunkDelayMs?: number;
  /** Compress the response body. */
  contentEncoding?: 'gzip';
  /** Chat / responses: answer with a function call instead of text. */
  toolCall?: { name: string; arguments: string };
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the body is JSON, else the raw string ('' when empty). */
  body: unknown;
}

export interface MockLlm {
  /** http://127.0.0.1:<port> (no trailing slash); the OpenAI base URL is `${url}/v1`. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Behaviours for the next requests, first in first out (one per request, any endpoint). */
  enqueue(...behaviours: MockBehaviour[]): void;
  /** Behaviour used when the queue is empty. */
  setDefault(behaviour: MockBehaviour): void;
  /** Clears requests, the queue and the default behaviour. */
  reset(): void;
  stop(): Promise<void>;
}

export const DEFAULT_CHUNK_SIZE = 8;
export const MOCK_MODELS = ['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small', 'mock-model'];

/** Default assistant content for a model. */
export function defaultContent(model: string): string {
  return `This is a deterministic mock reply from ${model}.`;
}

/** The mock's token estimate: ceil(code points / 4). */
export function estimateTokens(text: string): number {
  return Math.ceil(codePoints(text).length / 4);
}

function codePoints(s: string): string[] {
  return Array.from(s);
}

/** All text the mock counts as input for a request body (messages, prompt, input, instructions). */
export function inputText(body: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.text === 'string') parts.push(o.text);
      if ('content' in o) walk(o.content);
    }
  };
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    if (typeof b.instructions === 'string') parts.push(b.instructions);
    walk(b.messages);
    walk(b.prompt);
    walk(b.input);
  }
  return parts.join('');
}

const ERROR_TYPES: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: 'invalid_request_error', code: null, message: 'Invalid request (mock).' },
  401: { type: 'authentication_error', code: 'invalid_api_key', message: 'Incorrect API key provided (mock).' },
  403: { type: 'permission_error', code: null, message: 'Permission denied (mock).' },
  404: { type: 'invalid_request_error', code: 'not_found', message: 'Not found (mock).' },
  429: { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'Rate limit reached (mock).' },
  500: { type: 'server_error', code: null, message: 'The server had an error (mock).' },
  502: { type: 'server_error', code: null, message: 'Bad gateway (mock).' },
  503: { type: 'server_error', code: null, message: 'The engine is currently overloaded (mock).' },
};

export function errorBody(status: number): { error: { message: string; type: string; param: null; code: string | null } } {
  const e = ERROR_TYPES[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    code: null,
    message: `Mock error ${status}.`,
  };
  return { error: { message: e.message, type: e.type, param: null, code: e.code } };
}

const MAX_BODY = 32 * 1024 * 1024;

/** Header steering (x-mock-*) on top of the queued/default behaviour. */
function fromHeaders(h: http.IncomingHttpHeaders, base: MockBehaviour): MockBehaviour {
  const b: MockBehaviour = { ...base };
  const one = (name: string): string | undefined => {
    const v = h[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const content = one('x-mock-content');
  if (content !== undefined) b.content = Buffer.from(content, 'base64').toString('utf8');
  const usage = one('x-mock-usage');
  if (usage !== undefined) {
    if (usage.trim() === 'none') b.usage = null;
    else {
      const [p, c] = usage.split(',').map((x) => Number.parseInt(x.trim(), 10));
      if (Number.isFinite(p) && Number.isFinite(c)) b.usage = { prompt_tokens: p!, completion_tokens: c! };
    }
  }
  const num = (name: string): number | undefined => {
    const v = one(name);
    if (v === undefined) return undefined;
    const n = Number.parseInt(v, 10);
    return Number.isFinite(n) ? n : undefined;
  };
  const delay = num('x-mock-delay-ms');
  if (delay !== undefined) b.delayMs = delay;
  const status = num('x-mock-status');
  if (status !== undefined) b.status = status;
  const chunk = num('x-mock-chunk-size');
  if (chunk !== undefined && chunk > 0) b.chunkSize = chunk;
  const fail = one('x-mock-fail');
  if (fail === 'reset' || fail === 'timeout' || fail === 'hang-after-headers') b.fail = fail;
  return b;
}

function sleep(ms: number, timers: Set<NodeJS.Timeout>): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      timers.delete(t);
      resolve();
    }, ms);
    timers.add(t);
  });
}

function chunksOf(text: string, size: number): string[] {
  const cps = codePoints(text);
  if (cps.length === 0) return [];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

/** Deterministic unit-ish vector from a text. */
function embeddingFor(text: string, dims: number): number[] {
  const out: number[] = [];
  let block = 0;
  while (out.length < dims) {
    const h = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 1 < h.length && out.length < dims; i += 2) out.push((h.readUInt16BE(i) / 65535) * 2 - 1);
    block++;
  }
  const norm = Math.sqrt(out.reduce((s, x) => s + x * x, 0)) || 1;
  return out.map((x) => Math.fround(x / norm));
}

interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: Record<string, unknown>;
  behaviour: MockBehaviour;
  model: string;
  seq: number;
  timers: Set<NodeJS.Timeout>;
  isStopped: () => boolean;
}

/** A body writer honouring contentEncoding; `write` sends one chunk (flushed when gzip). */
class Out {
  private gz?: zlib.Gzip;
  constructor(private res: http.ServerResponse, encoding: 'gzip' | undefined) {
    if (encoding === 'gzip') {
      this.gz = zlib.createGzip();
      this.gz.pipe(res);
    }
  }
  head(status: number, headers: Record<string, string>): void {
    const h = { ...headers };
    if (this.gz) h['content-encoding'] = 'gzip';
    this.res.writeHead(status, h);
  }
  write(s: string): void {
    if (this.gz) {
      this.gz.write(s);
      this.gz.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.res.write(s);
  }
  end(s?: string): void {
    if (this.gz) this.gz.end(s);
    else this.res.end(s);
  }
}

function sendJson(ctx: Ctx, status: number, payload: unknown): void {
  const json = JSON.stringify(payload);
  const out = new Out(ctx.res, ctx.behaviour.contentEncoding);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(ctx.behaviour.headers ?? {}) };
  if (!ctx.behaviour.contentEncoding) headers['content-length'] = String(Buffer.byteLength(json));
  out.head(status, headers);
  out.end(json);
}

async function sendSse(ctx: Ctx, events: Array<{ event?: string; data: unknown }>, done: boolean): Promise<void> {
  const out = new Out(ctx.res, ctx.behaviour.contentEncoding);
  out.head(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...(ctx.behaviour.headers ?? {}),
  });
  const gap = ctx.behaviour.chunkDelayMs ?? 0;
  for (let i = 0; i < events.length; i++) {
    if (ctx.isStopped() || ctx.res.destroyed) return;
    const e = events[i]!;
    out.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`);
    if (gap > 0 && i < events.length - 1) await sleep(gap, ctx.timers);
  }
  if (ctx.isStopped() || ctx.res.destroyed) return;
  if (done) out.write('data: [DONE]\n\n');
  out.end();
}

function usageFor(ctx: Ctx, content: string): { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null {
  const u = ctx.behaviour.usage;
  if (u === null) return null;
  const prompt = u ? u.prompt_tokens : estimateTokens(inputText(ctx.body));
  const completion = u ? u.completion_tokens : estimateTokens(content);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

function pad(n: number): string {
  return String(n).padStart(6, '0');
}

function includeUsage(body: Record<string, unknown>): boolean {
  const so = body.stream_options as { include_usage?: unknown } | undefined;
  return !!so && so.include_usage === true;
}

async function chatCompletions(ctx: Ctx): Promise<void> {
  const { body, model, behaviour } = ctx;
  const content = behaviour.content ?? defaultContent(model);
  const id = `chatcmpl-mock${pad(ctx.seq)}`;
  const created = Math.floor(Date.now() / 1000);
  const tool = behaviour.toolCall;
  const toolId = `call_mock${pad(ctx.seq)}`;
  const usage = usageFor(ctx, tool ? tool.arguments : content);
  const finish = tool ? 'tool_calls' : 'stop';
  if (body.stream !== true) {
    const message: Record<string, unknown> = tool
      ? {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: toolId, type: 'function', function: { name: tool.name, arguments: tool.arguments } }],
          refusal: null,
          annotations: [],
        }
      : { role: 'assistant', content, refusal: null, annotations: [] };
    const payload: Record<string, unknown> = {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      service_tier: 'default',
      system_fingerprint: 'fp_mock',
    };
    if (usage) payload.usage = usage;
    return sendJson(ctx, 200, payload);
  }
  const withUsage = includeUsage(body) && usage !== null;
  const size = behaviour.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    data: {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: 'default',
      system_fingerprint: 'fp_mock',
      choices,
      ...(includeUsage(body) ? { usage: null } : {}),
      ...extra,
    },
  });
  const events: Array<{ data: unknown }> = [];
  if (tool) {
    events.push(
      chunk([
        {
          index: 0,
          delta: {
            role: 'assistant',
            content: null,
            tool_calls: [{ index: 0, id: toolId, type: 'function', function: { name: tool.name, arguments: '' } }],
            refusal: null,
          },
          logprobs: null,
          finish_reason: null,
        },
      ]),
    );
    for (const part of chunksOf(tool.arguments, size))
      events.push(
        chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: part } }] }, logprobs: null, finish_reason: null }]),
      );
  } else {
    events.push(chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]));
    for (const part of chunksOf(content, size))
      events.push(chunk([{ index: 0, delta: { content: part }, logprobs: null, finish_reason: null }]));
  }
  events.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]));
  if (withUsage) events.push(chunk([], { usage }));
  await sendSse(ctx, events, true);
}

async function completions(ctx: Ctx): Promise<void> {
  const { body, model, behaviour } = ctx;
  const content = behaviour.content ?? defaultContent(model);
  const id = `cmpl-mock${pad(ctx.seq)}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = usageFor(ctx, content);
  if (body.stream !== true) {
    const payload: Record<string, unknown> = {
      id,
      object: 'text_completion',
      created,
      model,
      choices: [{ text: content, index: 0, logprobs: null, finish_reason: 'stop' }],
      system_fingerprint: 'fp_mock',
    };
    if (usage) payload.usage = usage;
    return sendJson(ctx, 200, payload);
  }
  const size = behaviour.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    data: { id, object: 'text_completion', created, model, system_fingerprint: 'fp_mock', choices, ...extra },
  });
  const events: Array<{ data: unknown }> = [];
  for (const part of chunksOf(content, size))
    events.push(chunk([{ text: part, index: 0, logprobs: null, finish_reason: null }]));
  events.push(chunk([{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }]));
  if (includeUsage(body) && usage) events.push(chunk([], { usage }));
  await sendSse(ctx, events, true);
}

function embeddings(ctx: Ctx): void {
  const { body, model, behaviour } = ctx;
  const raw = body.input;
  const inputs: string[] = Array.isArray(raw)
    ? raw.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)))
    : [typeof raw === 'string' ? raw : JSON.stringify(raw ?? '')];
  const dims = typeof body.dimensions === 'number' && body.dimensions > 0 ? Math.min(body.dimensions, 4096) : 16;
  const base64 = body.encoding_format === 'base64';
  const data = inputs.map((text, index) => {
    const vec = embeddingFor(text, dims);
    const embedding = base64 ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec;
    return { object: 'embedding', index, embedding };
  });
  const payload: Record<string, unknown> = { object: 'list', data, model };
  if (behaviour.usage !== null) {
    const prompt = behaviour.usage ? behaviour.usage.prompt_tokens : inputs.reduce((s, t) => s + estimateTokens(t), 0);
    payload.usage = { prompt_tokens: prompt, total_tokens: prompt };
  }
  sendJson(ctx, 200, payload);
}

async function responses(ctx: Ctx): Promise<void> {
  const { body, model, behaviour } = ctx;
  const content = behaviour.content ?? defaultContent(model);
  const tool = behaviour.toolCall;
  const id = `resp_mock${pad(ctx.seq)}`;
  const itemId = tool ? `fc_mock${pad(ctx.seq)}` : `msg_mock${pad(ctx.seq)}`;
  const created_at = Math.floor(Date.now() / 1000);
  const u = usageFor(ctx, tool ? tool.arguments : content);
  const usage = u
    ? {
        input_tokens: u.prompt_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: u.completion_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: u.total_tokens,
      }
    : null;
  const doneItem = tool
    ? { type: 'function_call', id: itemId, call_id: `call_mock${pad(ctx.seq)}`, name: tool.name, arguments: tool.arguments, status: 'completed' }
    : {
        type: 'message',
        id: itemId,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: content, annotations: [], logprobs: [] }],
      };
  const response = (status: string, output: unknown[], withUsage: boolean) => ({
    id,
    object: 'response',
    created_at,
    status,
    error: null,
    incomplete_details: null,
    instructions: typeof body.instructions === 'string' ? body.instructions : null,
    max_output_tokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    usage: withUsage ? usage : null,
    metadata: {},
  });
  if (body.stream !== true) {
    const payload: Record<string, unknown> = response('completed', [doneItem], true);
    if (!usage) delete payload.usage;
    return sendJson(ctx, 200, payload);
  }
  let seqNo = 0;
  const ev = (type: string, data: Record<string, unknown>) => ({ event: type, data: { type, sequence_number: seqNo++, ...data } });
  const events: Array<{ event: string; data: unknown }> = [
    ev('response.created', { response: response('in_progress', [], false) }),
    ev('response.in_progress', { response: response('in_progress', [], false) }),
  ];
  const size = behaviour.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (tool) {
    events.push(ev('response.output_item.added', { output_index: 0, item: { ...doneItem, arguments: '', status: 'in_progress' } }));
    for (const part of chunksOf(tool.arguments, size))
      events.push(ev('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta: part }));
    events.push(ev('response.function_call_arguments.done', { item_id: itemId, output_index: 0, arguments: tool.arguments }));
  } else {
    events.push(
      ev('response.output_item.added', {
        output_index: 0,
        item: { type: 'message', id: itemId, status: 'in_progress', role: 'assistant', content: [] },
      }),
      ev('response.content_part.added', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      }),
    );
    for (const part of chunksOf(content, size))
      events.push(ev('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta: part, logprobs: [] }));
    events.push(
      ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text: content, logprobs: [] }),
      ev('response.content_part.done', {
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', text: content, annotations: [], logprobs: [] },
      }),
    );
  }
  events.push(ev('response.output_item.done', { output_index: 0, item: doneItem }));
  events.push(ev('response.completed', { response: response('completed', [doneItem], true) }));
  await sendSse(ctx, events, false);
}

function models(ctx: Ctx, id?: string): void {
  const entry = (m: string) => ({ id: m, object: 'model', created: 1700000000, owned_by: 'mock' });
  if (id !== undefined) return sendJson(ctx, 200, entry(id));
  sendJson(ctx, 200, { object: 'list', data: MOCK_MODELS.map(entry) });
}

/** `host` defaults to loopback; the compose stack binds 0.0.0.0 (scripts/mock-llm.ts). */
export async function startMockLlm(opts: { port?: number; host?: string } = {}): Promise<MockLlm> {
  const requests: RecordedRequest[] = [];
  const queue: MockBehaviour[] = [];
  let def: MockBehaviour = {};
  let seq = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> => {
    const text = raw.toString('utf8');
    let parsed: unknown = text;
    let jsonOk = false;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
        jsonOk = true;
      } catch {
        /* raw string */
      }
    }
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? 'GET', path, headers: { ...req.headers }, body: parsed });
    const base = queue.length > 0 ? queue.shift()! : def;
    const behaviour = fromHeaders(req.headers, base);
    const body = (jsonOk && parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}) as Record<string, unknown>;
    const ctx: Ctx = {
      req,
      res,
      body,
      behaviour,
      model: typeof body.model === 'string' ? body.model : 'mock-model',
      seq: ++seq,
      timers,
      isStopped: () => stopped,
    };

    if (behaviour.fail === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (behaviour.fail === 'timeout') return; // never answers; stop() closes the socket
    await sleep(behaviour.delayMs ?? 0, timers);
    if (stopped || res.destroyed) return;
    if (behaviour.fail === 'hang-after-headers') {
      res.writeHead(200, {
        'content-type': body.stream === true ? 'text/event-stream; charset=utf-8' : 'application/json',
        ...(behaviour.headers ?? {}),
      });
      res.flushHeaders();
      return;
    }
    if (behaviour.status !== undefined && behaviour.status >= 400) return sendJson(ctx, behaviour.status, errorBody(behaviour.status));

    const method = req.method ?? 'GET';
    const notFound = () =>
      sendJson({ ...ctx, behaviour: { ...behaviour, contentEncoding: undefined } }, 404, {
        error: { message: `Unknown request URL: ${method} ${path} (mock).`, type: 'invalid_request_error', param: null, code: 'unknown_url' },
      });
    const post = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses'];
    if (post.includes(path)) {
      if (method !== 'POST') return notFound();
      if (!jsonOk || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return sendJson({ ...ctx, behaviour: { ...behaviour, contentEncoding: undefined } }, 400, {
          error: { message: 'We could not parse the JSON body of your request (mock).', type: 'invalid_request_error', param: null, code: null },
        });
      }
    }
    switch (path) {
      case '/v1/chat/completions':
        return chatCompletions(ctx);
      case '/v1/completions':
        return completions(ctx);
      case '/v1/embeddings':
        return embeddings(ctx);
      case '/v1/responses':
        return responses(ctx);
      case '/v1/models':
        return method === 'GET' ? models(ctx) : notFound();
      default:
        if (method === 'GET' && path.startsWith('/v1/models/')) return models(ctx, decodeURIComponent(path.slice('/v1/models/'.length)));
        return notFound();
    }
  };

  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.socket.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => {
      handle(req, res, Buffer.concat(parts)).catch(() => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(errorBody(500)));
        } else res.destroy();
      });
    });
  });
  // Longer than any client pool's idle timeout, so a pooled socket is never closed under a request.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    enqueue(...behaviours: MockBehaviour[]) {
      queue.push(...behaviours);
    },
    setDefault(behaviour: MockBehaviour) {
      def = { ...behaviour };
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
      def = {};
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
