/**
 * The pure core of llm-output-redact: one upstream response in, one decision out.
 * No PDK, no clock, no I/O. The handler reads the response, calls `processResponse`, and writes
 * the result back (kong.response.exit only when the body changed or is withheld).
 */
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync, inflateRawSync, inflateSync, deflateSync } from 'node:zlib';
import type { LlmRequest, LlmUsage } from '../core/context';
import { gatewayError } from '../core/errors';
import type { MultiMap } from '../core/pdk';
import { headerValue } from '../core/pdk';
import { ENTITIES, type Entity } from '../core/text/detect';
import { applyEdits, type RedactEdit, redactEdits, type RedactFinding, type RedactPolicy, RedactSession } from '../core/text/redact';
import type { RedactConfig } from './schema';

export const PLUGIN = 'llm-output-redact';

export interface Prepared {
  cfg: RedactConfig;
  /** Undefined in usage_only mode or when every entity is off. */
  policy?: RedactPolicy;
}

/** Build the policy once per instance. Throws on a config that cannot work (hash without salt). */
export function prepare(cfg: RedactConfig): Prepared {
  if (cfg.mode === 'usage_only') return { cfg };
  if (cfg.replacement === 'hash' && (cfg.salt === undefined || cfg.salt === null || cfg.salt.length < 16)) throw new Error('hash replacement needs a salt');
  const entities: RedactPolicy['entities'] = {};
  for (const e of ENTITIES) {
    const a = cfg.entities[e];
    if (a && a !== 'off') entities[e] = a;
  }
  if (Object.keys(entities).length === 0) return { cfg };
  return {
    cfg,
    policy: {
      entities,
      replacement: cfg.replacement,
      salt: cfg.salt ?? undefined,
      allow: { values: cfg.allow_values ?? [], domains: cfg.allow_domains ?? [] },
    },
  };
}

export interface ResponseInput {
  status: number;
  headers: MultiMap | undefined;
  body: Buffer;
  /** Decoded `llm.request` when llm-input-guard ran. */
  request?: LlmRequest;
}

export type Outcome =
  | 'clean' // inspected, nothing found
  | 'redacted' // something replaced
  | 'logged' // findings with action log only
  | 'blocked' // withheld (502)
  | 'usage_only'
  | 'skipped_status' // non-2xx upstream answer: passed as is
  | 'passthrough_malformed' // JSON / SSE that does not parse
  | 'passthrough_other' // not JSON, not SSE
  | 'oversize' // too large or undecodable: blocked or passed per `oversize`
  | 'empty';

export interface RedactEventFields {
  outcome: Outcome;
  format: 'json' | 'sse' | 'other';
  findings: number;
  usage_chunk_dropped?: boolean;
  encoding?: string;
  bytes: number;
  [count: `n_${string}`]: number;
}

export interface ResponseDecision {
  action: 'pass' | 'replace' | 'block';
  status?: number;
  body?: Buffer;
  headers?: Record<string, string | string[]>;
  usage?: Omit<LlmUsage, 'v'>;
  event: RedactEventFields;
  /** A metadata-only log line for the odd cases (malformed, oversize). */
  log?: { level: 'notice' | 'warn'; message: string };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length']);

// ---------------------------------------------------------------------------------------------
// content encodings

type Decoded = { ok: true; body: Buffer; encoding: string } | { ok: false; reason: 'too_large' | 'undecodable'; encoding: string };

export function decodeBody(body: Buffer, contentEncoding: string | undefined, max: number): Decoded {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  try {
    switch (enc) {
      case '':
      case 'identity':
        return body.length > max ? { ok: false, reason: 'too_large', encoding: 'identity' } : { ok: true, body, encoding: 'identity' };
      case 'gzip':
      case 'x-gzip':
        return { ok: true, body: gunzipSync(body, { maxOutputLength: max }), encoding: enc };
      case 'br':
        return { ok: true, body: brotliDecompressSync(body, { maxOutputLength: max }), encoding: enc };
      case 'deflate':
        try {
          return { ok: true, body: inflateSync(body, { maxOutputLength: max }), encoding: enc };
        } catch {
          return { ok: true, body: inflateRawSync(body, { maxOutputLength: max }), encoding: enc };
        }
      default:
        return { ok: false, reason: 'undecodable', encoding: enc };
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { ok: false, reason: code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError ? 'too_large' : 'undecodable', encoding: enc };
  }
}

export function encodeBody(body: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return gzipSync(body);
    case 'br':
      return brotliCompressSync(body);
    case 'deflate':
      return deflateSync(body);
    default:
      return body;
  }
}

// ---------------------------------------------------------------------------------------------
// usage

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined);

/** OpenAI usage (chat/completions: prompt/completion; responses: input/output) → LlmUsage fields. */
export function usageFrom(u: unknown, model?: unknown): Omit<LlmUsage, 'v'> | undefined {
  if (!isObj(u)) return undefined;
  const prompt = num(u.prompt_tokens) ?? num(u.input_tokens);
  const completion = num(u.completion_tokens) ?? num(u.output_tokens) ?? (prompt !== undefined && u.completion_tokens === undefined && u.output_tokens === undefined ? 0 : undefined);
  if (prompt === undefined || completion === undefined) return undefined;
  const total = num(u.total_tokens) ?? prompt + completion;
  const details = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : isObj(u.input_tokens_details) ? u.input_tokens_details : undefined;
  const cached = details ? num(details.cached_tokens) : undefined;
  const out: Omit<LlmUsage, 'v'> = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total };
  if (cached !== undefined) out.cached_tokens = cached;
  if (typeof model === 'string' && model.length > 0 && model.length <= 200) out.model = model;
  return out;
}

// ---------------------------------------------------------------------------------------------
// redaction over a response

class Scan {
  readonly session = new RedactSession();
  readonly findings: RedactFinding[] = [];
  blocked = false;
  changed = false;
  constructor(readonly policy: RedactPolicy) {}
  edits(text: string): RedactEdit[] {
    const r = redactEdits(text, this.policy, this.session);
    for (const f of r.findings) this.findings.push(f);
    if (r.blocked) this.blocked = true;
    if (r.edits.length > 0) this.changed = true;
    return r.edits;
  }
  text(s: string): string {
    return applyEdits(s, this.edits(s));
  }
}

/** Keys whose string values are model output, anywhere inside `choices` / `output` / events. */
const TEXT_KEYS = new Set(['content', 'text', 'arguments', 'refusal', 'output_text', 'partial_json']);
const SKIP_KEYS = new Set(['usage', 'id', 'object', 'model', 'created', 'created_at', 'type', 'role', 'status', 'finish_reason', 'index', 'system_fingerprint', 'name', 'call_id', 'item_id', 'metadata', 'logprobs']);

/** Redact model-output strings inside a JSON value, in document order. True when something changed. */
function walk(v: unknown, scan: Scan, depth = 0): boolean {
  if (depth > 32) return false;
  let changed = false;
  if (Array.isArray(v)) {
    for (const x of v) if (walk(x, scan, depth + 1)) changed = true;
    return changed;
  }
  if (!isObj(v)) return false;
  for (const k of Object.keys(v)) {
    if (SKIP_KEYS.has(k)) continue;
    const x = v[k];
    if (typeof x === 'string') {
      if (TEXT_KEYS.has(k) && x.length > 0) {
        const y = scan.text(x);
        if (y !== x) {
          v[k] = y;
          changed = true;
        }
      }
    } else if (typeof x === 'object' && x !== null && walk(x, scan, depth + 1)) changed = true;
  }
  return changed;
}

/** The model-output parts of a response document (chat, completions, responses, responses events). */
function redactJsonDocument(obj: Json, scan: Scan): boolean {
  let changed = false;
  if (Array.isArray(obj.choices) && walk(obj.choices, scan)) changed = true;
  if (Array.isArray(obj.output) && walk(obj.output, scan)) changed = true;
  if (isObj(obj.response) && redactJsonDocument(obj.response, scan)) changed = true; // responses API stream events
  if (isObj(obj.item) && walk(obj.item, scan)) changed = true;
  if (isObj(obj.part) && walk(obj.part, scan)) changed = true;
  // top-level texts: responses `output_text`; ".done" events carry the whole text / arguments
  const keys = typeof obj.type === 'string' && obj.type.startsWith('response.') ? ['output_text', 'text', 'arguments', 'refusal'] : ['output_text'];
  for (const k of keys) {
    const x = obj[k];
    if (typeof x === 'string' && x.length > 0) {
      const y = scan.text(x);
      if (y !== x) {
        obj[k] = y;
        changed = true;
      }
    }
  }
  return changed;
}

/**
 * Token log-probabilities spell the completion out token by token: once anything was redacted,
 * they would give it back, so they are dropped (set to null) from every choice.
 */
function dropLogprobs(obj: Json): boolean {
  let changed = false;
  if (Array.isArray(obj.choices)) {
    for (const c of obj.choices) {
      if (isObj(c) && c.logprobs !== undefined && c.logprobs !== null) {
        c.logprobs = null;
        changed = true;
      }
    }
  }
  return changed;
}

// ---------------------------------------------------------------------------------------------
// SSE

interface SseEvent {
  /** Exact original bytes of the event including its terminating blank line. */
  raw: string;
  /** Non-data lines, in order (event:, id:, retry:, comments), with their position markers. */
  lines: string[];
  data?: string;
  json?: Json;
  modified: boolean;
  drop: boolean;
  /** Line ending used by the event. */
  eol: string;
}

export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  const parts = text.split(/(\r\n\r\n|\n\n|\r\r)/);
  for (let i = 0; i < parts.length; i += 2) {
    const block = parts[i] as string;
    const sep = parts[i + 1] ?? '';
    if (block.length === 0 && sep.length === 0) continue;
    const eol = sep.startsWith('\r\n') ? '\r\n' : sep.startsWith('\r') ? '\r' : '\n';
    const lines = block.split(/\r\n|\n|\r/);
    const dataLines: string[] = [];
    const other: string[] = [];
    for (const line of lines) {
      if (line.startsWith('data:')) {
        dataLines.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
        other.push('\u0000data');
      } else other.push(line);
    }
    events.push({ raw: block + sep, lines: other, data: dataLines.length > 0 ? dataLines.join('\n') : undefined, modified: false, drop: false, eol });
  }
  return events;
}

function serialiseEvent(e: SseEvent): string {
  if (e.drop) return '';
  if (!e.modified) return e.raw;
  let wroteData = false;
  const out: string[] = [];
  for (const l of e.lines) {
    if (l === '\u0000data') {
      if (!wroteData) out.push(`data: ${JSON.stringify(e.json)}`);
      wroteData = true;
    } else out.push(l);
  }
  return out.join(e.eol) + e.eol + e.eol;
}

interface Piece {
  event: SseEvent;
  holder: Json;
  key: string;
  text: string;
}

/** Order streams like the JSON document: by choice/output index, then field. */
function streamOrder(key: string): [number, string] {
  const m = /^(\d+)\|/.exec(key);
  return [m ? Number(m[1]) : 1e9, key];
}

/**
 * Rebuild each stream's text across deltas, redact it as a whole, then put the result back
 * into the same chunks: a replacement goes where its entity started; the entity's characters
 * in later chunks are removed. Event boundaries stay as they were.
 */
function redactStreams(streams: Map<string, Piece[]>, scan: Scan): void {
  const keys = [...streams.keys()].sort((a, b) => {
    const [ia, ka] = streamOrder(a);
    const [ib, kb] = streamOrder(b);
    return ia - ib || (ka < kb ? -1 : ka > kb ? 1 : 0);
  });
  for (const key of keys) {
    const pieces = streams.get(key) as Piece[];
    const full = pieces.map((p) => p.text).join('');
    const edits = scan.edits(full);
    if (edits.length === 0) continue;
    let a = 0;
    let k = 0; // first edit that ends after the current piece's start
    for (const p of pieces) {
      const b = a + p.text.length;
      while (k < edits.length && (edits[k] as RedactEdit).end <= a) k++;
      let out = '';
      let pos = a;
      for (let x = k; x < edits.length; x++) {
        const e = edits[x] as RedactEdit;
        if (e.start >= b) break;
        // an entity that began in an earlier piece loses its remaining characters here;
        // one that begins here is replaced here
        if (e.start >= a) out += full.slice(pos, e.start) + e.replacement;
        pos = Math.min(e.end, b);
      }
      out += full.slice(pos, b);
      if (out !== p.text) {
        p.holder[p.key] = out;
        p.event.modified = true;
      }
      a = b;
    }
  }
}

// ---------------------------------------------------------------------------------------------

function counts(findings: readonly RedactFinding[]): Record<`n_${string}`, number> {
  const out: Record<`n_${string}`, number> = {};
  for (const f of findings) out[`n_${f.entity}`] = (out[`n_${f.entity}`] ?? 0) + 1;
  return out;
}

function responseHeaders(upstream: MultiMap | undefined, body: Buffer): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(upstream ?? {})) if (!HOP_BY_HOP.has(k.toLowerCase())) out[k.toLowerCase()] = v;
  out['content-length'] = String(body.length);
  return out;
}

function withheld(upstreamHeaders: MultiMap | undefined, encoding: string): { status: number; body: Buffer; headers: Record<string, string | string[]> } {
  const err = gatewayError('policy_withheld', 'response_withheld', 'The response was withheld by policy.');
  // Upstream headers stay set in Kong's response phase: keep the body in the same encoding so
  // a Content-Encoding header left in place still describes it.
  const plain = Buffer.from(JSON.stringify(err.body), 'utf8');
  const known = encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'br' || encoding === 'deflate';
  const body = known ? encodeBody(plain, encoding) : plain;
  const headers = responseHeaders(upstreamHeaders, body);
  headers['content-type'] = 'application/json';
  // an encoding we cannot produce (zstd, …): say explicitly that the error body is not encoded
  if (!known && headerValue(upstreamHeaders, 'content-encoding') !== undefined) headers['content-encoding'] = 'identity';
  return { status: err.status, body, headers };
}

function isSse(contentType: string, text: string): boolean {
  if (contentType.includes('text/event-stream')) return true;
  if (contentType.includes('json')) return false;
  return /^(?:data|event|id|:)/.test(text.trimStart().slice(0, 6));
}

export function processResponse(p: Prepared, input: ResponseInput): ResponseDecision {
  const { cfg } = p;
  const bytes = input.body.length;
  const contentType = (headerValue(input.headers, 'content-type') ?? '').toLowerCase();
  const base = { findings: 0, bytes } as const;
  if (input.status < 200 || input.status >= 300) return { action: 'pass', event: { ...base, outcome: 'skipped_status', format: 'other' } };
  if (bytes === 0) return { action: 'pass', event: { ...base, outcome: 'empty', format: 'other' } };

  const decoded = decodeBody(input.body, headerValue(input.headers, 'content-encoding'), cfg.max_body_bytes);
  if (!decoded.ok) {
    const block = cfg.mode === 'redact' && p.policy !== undefined && cfg.oversize === 'block';
    const event: RedactEventFields = { ...base, outcome: 'oversize', format: 'other', encoding: decoded.encoding };
    const log = { level: 'warn' as const, message: `[${PLUGIN}] response not inspected (${decoded.reason}, encoding ${decoded.encoding || 'identity'}, ${bytes} bytes): ${block ? 'withheld' : 'passed'}` };
    if (!block) return { action: 'pass', event, log };
    const w = withheld(input.headers, decoded.encoding);
    return { action: 'block', ...w, event, log };
  }
  const text = decoded.body.toString('utf8');
  const sse = isSse(contentType, text);
  const format: 'json' | 'sse' = sse ? 'sse' : 'json';
  if (!sse && !/^\s*[{[]/.test(text)) {
    return { action: 'pass', event: { ...base, outcome: 'passthrough_other', format: 'other' }, log: { level: 'notice', message: `[${PLUGIN}] non-JSON response passed through (${contentType || 'no content-type'}, ${bytes} bytes)` } };
  }
  const malformed = (): ResponseDecision => ({
    action: 'pass',
    event: { ...base, outcome: 'passthrough_malformed', format },
    log: { level: 'warn', message: `[${PLUGIN}] malformed ${format.toUpperCase()} response passed through unchanged (${bytes} bytes)` },
  });

  const scan = p.policy && cfg.mode === 'redact' ? new Scan(p.policy) : undefined;
  let usage: Omit<LlmUsage, 'v'> | undefined;
  let body: string | undefined; // new body text when changed
  let usageDropped = false;

  if (!sse) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return malformed();
    }
    if (!isObj(obj)) return malformed();
    usage = usageFrom(obj.usage, obj.model);
    if (scan) {
      redactJsonDocument(obj, scan);
      if (scan.changed) dropLogprobs(obj);
      if (scan.changed && !scan.blocked) body = JSON.stringify(obj);
    }
  } else {
    const events = parseSse(text);
    const streams = new Map<string, Piece[]>();
    // usage_only never touches the body, so the injected usage chunk stays there
    const dropInjected = cfg.mode === 'redact' && input.request?.include_usage_injected === true;
    for (const ev of events) {
      if (ev.data === undefined || ev.data === '[DONE]') continue;
      let obj: unknown;
      try {
        obj = JSON.parse(ev.data);
      } catch {
        return malformed();
      }
      if (!isObj(obj)) return malformed();
      ev.json = obj;
      const u = usageFrom(obj.usage, obj.model) ?? (isObj(obj.response) ? usageFrom(obj.response.usage, obj.response.model) : undefined);
      if (u) {
        usage = u;
        if (dropInjected && isObj(obj.usage)) {
          if (Array.isArray(obj.choices) && obj.choices.length === 0) ev.drop = true;
          else {
            delete obj.usage;
            ev.modified = true;
          }
          usageDropped = true;
        }
      }
      if (!scan) continue;
      // chat / legacy completions chunks: deltas per choice and field
      if (Array.isArray(obj.choices)) {
        obj.choices.forEach((c, pos) => {
          if (!isObj(c)) return;
          const idx = typeof c.index === 'number' ? c.index : pos;
          const add = (holder: Json, field: string, key: string) => {
            const t = holder[field];
            if (typeof t !== 'string' || t.length === 0) return;
            let list = streams.get(key);
            if (!list) streams.set(key, (list = []));
            list.push({ event: ev, holder, key: field, text: t });
          };
          add(c, 'text', `${idx}|0text`);
          if (isObj(c.delta)) {
            const d = c.delta;
            add(d, 'content', `${idx}|1content`);
            add(d, 'refusal', `${idx}|2refusal`);
            if (Array.isArray(d.tool_calls)) {
              d.tool_calls.forEach((tc, tpos) => {
                if (isObj(tc) && isObj(tc.function)) add(tc.function, 'arguments', `${idx}|3tool${String(typeof tc.index === 'number' ? tc.index : tpos).padStart(4, '0')}`);
              });
            }
            if (isObj(d.function_call)) add(d.function_call, 'arguments', `${idx}|4fn`);
          }
          if (isObj(c.message) && walk(c.message, scan)) ev.modified = true;
        });
      }
      // responses API: *.delta events are streams; other events carry whole texts
      const type = obj.type;
      if (typeof type === 'string' && type.startsWith('response.')) {
        if (type.endsWith('.delta') && typeof obj.delta === 'string') {
          const key = `${typeof obj.output_index === 'number' ? obj.output_index : 0}|${type}:${String(obj.item_id ?? '')}:${String(obj.content_index ?? '')}:${String(obj.summary_index ?? '')}`;
          let list = streams.get(key);
          if (!list) streams.set(key, (list = []));
          if (obj.delta.length > 0) list.push({ event: ev, holder: obj, key: 'delta', text: obj.delta });
        } else if (redactJsonDocument(obj, scan)) ev.modified = true;
      }
    }
    if (scan) redactStreams(streams, scan);
    if (scan?.changed) for (const ev of events) if (ev.json && dropLogprobs(ev.json)) ev.modified = true;
    if ((scan?.changed && !scan.blocked) || usageDropped) {
      let out = '';
      for (const ev of events) out += serialiseEvent(ev);
      body = out;
    }
  }

  const findings = scan?.findings ?? [];
  const event: RedactEventFields = {
    ...base,
    outcome: !scan ? 'usage_only' : scan.blocked ? 'blocked' : scan.changed ? 'redacted' : findings.length > 0 ? 'logged' : 'clean',
    format,
    findings: findings.length,
    ...counts(findings),
  };
  if (usageDropped) event.usage_chunk_dropped = true;
  if (decoded.encoding !== 'identity') event.encoding = decoded.encoding;
  if (scan?.blocked) return { action: 'block', ...withheld(input.headers, decoded.encoding), usage, event };
  if (body === undefined || body === text) return { action: 'pass', usage, event };
  const out = encodeBody(Buffer.from(body, 'utf8'), decoded.encoding);
  return { action: 'replace', status: input.status, body: out, headers: responseHeaders(input.headers, out), usage, event };
}

export type { Entity };
