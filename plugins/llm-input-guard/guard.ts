/**
 * The pure core of llm-input-guard: no PDK, no clock, no I/O. The handler feeds it what it read
 * (headers, path, the identity string, the raw body) and applies what it returns.
 *
 *   preflight(...)  — before the body is read: identity, Content-Type, Content-Length.
 *   inspect(...)    — the body: UTF-8, JSON, schema, fields, model, messages, tokens, max_tokens,
 *                     n, stream usage, injection scoring; the final body and `llm.request`.
 *
 * Never throws on any input (fuzzed); an unexpected exception is the handler's 503.
 */
import { v7 as uuidv7 } from 'uuid';
import { CTX, decodeCtx, encodeCtx, identityForRequest, type EndpointKind, type LlmIdentity, type LlmRequest } from '../core/context';
import { gatewayError, unavailable, type GatewayError } from '../core/errors';
import { contentFingerprint } from '../core/hash';
import { headerValue, type MultiMap } from '../core/pdk';
import { matchesAllowlist } from '../core/tenancy';
import { normalise } from '../core/text/normalise';
import { countByEntity, redact, RedactSession, type RedactFinding, type RedactPolicy } from '../core/text/redact';
import { endpointFromPath, getValidators, KNOWN_FIELDS } from './endpoints';
import { compileRules, scoreTexts, type CompiledRules } from './injection';
import { codePointLength, isJsonContentType, parseBody } from './parse';
import type { GuardConfig, KnownEndpoint } from './schema';
import { dataUrlImageSize, encodingForModel, imageTokens, TokenCounter, type ImageCostOptions } from './tokens';

export const PLUGIN = 'llm-input-guard';

/** Metadata-only fields of a `guard` event (never content). */
export interface GuardEventFields {
  outcome: 'rejected' | 'blocked' | 'flagged' | 'logged';
  reason: string;
  rules?: string;
  score?: number;
  endpoint?: string;
  model?: string;
  tenant_id?: string;
  key_id?: string;
  prompt_hash?: string;
  /** PII findings per entity, `email:2,phone:1` (never values). */
  pii?: string;
}

export type Decision =
  | { action: 'deny'; error: GatewayError; reason: string; requestId: string; event?: GuardEventFields }
  | {
      action: 'pass';
      /** Encoded `llm.request` value. */
      request: string;
      /** New upstream body when it changed, else undefined. */
      body?: string;
      upstreamHeaders?: Record<string, string>;
      requestId: string;
      event?: GuardEventFields;
      changes: string[];
    };

export interface Effective {
  maxBodyBytes: number;
  maxMessageChars: number;
  maxTurns: number;
  maxInputTokens: number;
  defaultMaxTokens: number;
  maxTokensCap: number;
  maxN: number;
  identityModels?: readonly string[];
}

/** Tenant limits from the identity win; the route's config fills what the identity lacks. */
export function effectiveLimits(cfg: GuardConfig, identity: LlmIdentity | undefined): Effective {
  const inp = (identity?.input ?? {}) as Record<string, unknown>;
  const pick = (k: string, d: number): number => {
    const v = inp[k];
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : d;
  };
  const models = identity?.scopes?.models;
  return {
    maxBodyBytes: pick('max_body_bytes', cfg.max_body_bytes),
    maxMessageChars: pick('max_message_chars', cfg.max_message_chars),
    maxTurns: pick('max_turns', cfg.max_turns),
    maxInputTokens: pick('max_input_tokens', cfg.max_input_tokens),
    defaultMaxTokens: pick('default_max_tokens', cfg.default_max_tokens),
    maxTokensCap: pick('max_tokens_cap', cfg.max_tokens_cap),
    maxN: pick('max_n', cfg.max_n),
    identityModels: Array.isArray(models) ? models.filter((m): m is string => typeof m === 'string') : undefined,
  };
}

export interface Prepared {
  cfg: GuardConfig;
  rules: CompiledRules;
}

export function prepare(cfg: GuardConfig): Prepared {
  return { cfg, rules: compileRules(cfg.injection.disabled_rules, cfg.injection.custom_patterns) };
}

// ---------------------------------------------------------------------------------------------

export type Preflight =
  | { kind: 'deny'; decision: Decision }
  | { kind: 'pass'; decision: Decision }
  | { kind: 'read'; cap: number; ctx: RequestCtx };

export interface RequestCtx {
  identity?: LlmIdentity;
  requestId: string;
  limits: Effective;
  endpoint?: KnownEndpoint;
  contentTypeChecked: boolean;
  contentType?: string;
}

const deny = (ctx: { requestId: string; identity?: LlmIdentity }, error: GatewayError, reason: string, extra: Partial<GuardEventFields> = {}): Decision => ({
  action: 'deny',
  error,
  reason,
  requestId: ctx.requestId,
  event: { outcome: 'rejected', reason, tenant_id: ctx.identity?.tenant_id, key_id: ctx.identity?.key_id, ...extra },
});

const invalid = (code: string, message: string, param?: string | null) => gatewayError('invalid_request', code, message, { param: param ?? null });

function requestIdFrom(identity: LlmIdentity | undefined, headers: MultiMap | undefined): string {
  if (identity?.request_id) return identity.request_id;
  const h = headerValue(headers, 'x-request-id');
  return h && /^[A-Za-z0-9._:-]{1,128}$/.test(h) ? h : uuidv7();
}

function baseRequest(ctx: RequestCtx, endpoint: EndpointKind): Omit<LlmRequest, 'v'> {
  const id = ctx.identity;
  return {
    request_id: ctx.requestId,
    endpoint,
    model: '',
    stream: false,
    input_tokens: 0,
    max_tokens: 0,
    n: 1,
    feature: id?.feature,
    prompt_hash: '',
    include_usage_injected: false,
    ...(id
      ? identityForRequest(id)
      : { tenant_id: '', timezone: 'UTC', limits: {}, budgets: {} }),
  };
}

/** Passing without inspection (no body, or an allowed unknown endpoint). */
function passThrough(ctx: RequestCtx, endpoint: EndpointKind): Decision {
  return { action: 'pass', request: encodeCtx(CTX.request, baseRequest(ctx, endpoint)), requestId: ctx.requestId, changes: [] };
}

/** True when the request declares a Content-Length (the handler then never needs the method). */
export function hasContentLength(headers: MultiMap | undefined): boolean {
  return headers?.['content-length'] !== undefined;
}

const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE']);

/**
 * Before the body is read. A body must come with a Content-Length: Kong's get_raw_body(cap)
 * answers nil for a spooled body larger than the cap, which Kong cannot encode (a 500), and a
 * chunked body's size is unknown until it is read. So: Content-Length 0 → nothing to inspect;
 * larger than the limit → 413 without reading; no Content-Length → a GET-like method passes
 * (no body), anything else is refused with 411.
 */
export function preflight(p: Prepared, input: { headers: MultiMap | undefined; path?: string; identityRaw: unknown; method?: string }): Preflight {
  const { cfg } = p;
  const identity = decodeCtx(CTX.identity, input.identityRaw);
  const requestId = requestIdFrom(identity, input.headers);
  if (!identity && cfg.require_identity) {
    const d: Decision = { action: 'deny', error: unavailable('identity_missing'), reason: 'identity_missing', requestId, event: { outcome: 'rejected', reason: 'identity_missing' } };
    return { kind: 'deny', decision: d };
  }
  const limits = effectiveLimits(cfg, identity);
  const ctx: RequestCtx = { identity, requestId, limits, contentTypeChecked: false };
  ctx.endpoint = cfg.endpoint === 'auto' ? endpointFromPath(input.path ?? '') : cfg.endpoint;

  const h = input.headers;
  const clRaw = h?.['content-length'];
  const clValues = clRaw === undefined ? [] : Array.isArray(clRaw) ? clRaw : [clRaw];
  const te = headerValue(h, 'transfer-encoding');
  let declared: number | undefined;
  if (clValues.length > 0) {
    // Several or malformed Content-Length values: a smuggling attempt or a broken client.
    const distinct = new Set(clValues.map((v) => String(v).trim()));
    const only = [...distinct][0] as string;
    if (distinct.size !== 1 || !/^\d{1,15}$/.test(only)) return { kind: 'deny', decision: deny(ctx, invalid('invalid_content_length', 'The request has an invalid Content-Length.'), 'invalid_content_length') };
    declared = Number(only);
  }
  if (declared === undefined) {
    const method = (input.method ?? '').toUpperCase();
    if (te === undefined && BODYLESS_METHODS.has(method)) return { kind: 'pass', decision: passThrough(ctx, ctx.endpoint ?? 'other') };
    if (ctx.endpoint === undefined && cfg.unknown_endpoint === 'allow') return { kind: 'pass', decision: passThrough(ctx, 'other') };
    const e = gatewayError('invalid_request', 'length_required', 'A request body must be sent with a Content-Length header.');
    return { kind: 'deny', decision: deny(ctx, { ...e, status: 411 }, 'length_required') };
  }
  if (declared === 0) return { kind: 'pass', decision: passThrough(ctx, ctx.endpoint ?? 'other') };

  // A body is coming: Content-Type and size are decided before it is read.
  ctx.contentType = headerValue(h, 'content-type');
  if (ctx.endpoint === undefined && cfg.unknown_endpoint === 'allow') return { kind: 'pass', decision: passThrough(ctx, 'other') };
  if (!isJsonContentType(ctx.contentType)) return { kind: 'deny', decision: deny(ctx, gatewayError('unsupported_media_type', 'unsupported_content_type', 'The request body must be JSON (Content-Type: application/json).'), 'unsupported_content_type') };
  // A compressed request body could not be inspected: refused rather than passed unread.
  const ce = headerValue(h, 'content-encoding');
  if (ce !== undefined && ce.trim().toLowerCase() !== 'identity' && ce.trim() !== '') {
    return { kind: 'deny', decision: deny(ctx, gatewayError('unsupported_media_type', 'unsupported_content_encoding', 'The request body must not be compressed.'), 'unsupported_content_encoding') };
  }
  ctx.contentTypeChecked = true;
  if (declared > limits.maxBodyBytes) return { kind: 'deny', decision: deny(ctx, gatewayError('too_large', 'body_too_large', 'The request body is too large.'), 'body_too_large') };
  // The body is exactly `declared` bytes (nginx enforces it): reading with this cap never
  // meets Kong's nil.
  return { kind: 'read', cap: Math.max(declared, 1), ctx };
}

// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Unit {
  /** Message role, or 'prompt' / 'input' / 'instructions'. */
  role: string;
  texts: string[];
  images: Array<{ url: string; detail?: string }>;
  otherParts: number;
  extraText: string[];
  scan: boolean;
  system: boolean;
}

function chatUnit(m: Json, scanRoles: ReadonlySet<string>): Unit {
  const role = String(m.role);
  const u: Unit = { role, texts: [], images: [], otherParts: 0, extraText: [], scan: scanRoles.has(role), system: role === 'system' || role === 'developer' };
  const c = m.content;
  if (typeof c === 'string') u.texts.push(c);
  else if (Array.isArray(c)) {
    for (const part of c) {
      if (!isObj(part)) continue;
      if (part.type === 'text' && typeof part.text === 'string') u.texts.push(part.text);
      else if (part.type === 'refusal' && typeof part.refusal === 'string') u.texts.push(part.refusal);
      else if (part.type === 'image_url' && isObj(part.image_url)) u.images.push({ url: String(part.image_url.url ?? ''), detail: typeof part.image_url.detail === 'string' ? part.image_url.detail : undefined });
      else u.otherParts++;
    }
  }
  if (typeof m.name === 'string') u.extraText.push(m.name);
  if (Array.isArray(m.tool_calls)) {
    for (const tc of m.tool_calls) {
      if (isObj(tc) && isObj(tc.function)) {
        if (typeof tc.function.name === 'string') u.extraText.push(tc.function.name);
        if (typeof tc.function.arguments === 'string') u.extraText.push(tc.function.arguments);
      }
    }
  }
  if (isObj(m.function_call)) u.extraText.push(JSON.stringify(m.function_call));
  return u;
}

function responsesUnit(item: Json, scanRoles: ReadonlySet<string>): Unit {
  const role = typeof item.role === 'string' ? item.role : typeof item.type === 'string' ? item.type : 'item';
  const isOutput = item.type === 'function_call_output' || item.type === 'custom_tool_call_output';
  const u: Unit = {
    role,
    texts: [],
    images: [],
    otherParts: 0,
    extraText: [],
    scan: scanRoles.has(role) || (isOutput && scanRoles.has('tool')),
    system: role === 'system' || role === 'developer',
  };
  const pushContent = (c: unknown) => {
    if (typeof c === 'string') u.texts.push(c);
    else if (Array.isArray(c)) {
      for (const part of c) {
        if (!isObj(part)) continue;
        if (typeof part.text === 'string') u.texts.push(part.text);
        else if (part.type === 'input_image') u.images.push({ url: typeof part.image_url === 'string' ? part.image_url : '', detail: typeof part.detail === 'string' ? part.detail : undefined });
        else u.otherParts++;
      }
    }
  };
  if ('content' in item) pushContent(item.content);
  if (isOutput) pushContent(item.output);
  if (!('content' in item) && !isOutput) {
    // function_call, reasoning, item_reference, ...: counted as their JSON text.
    const { type: _t, id: _i, ...rest } = item;
    u.extraText.push(JSON.stringify(rest));
  }
  return u;
}

function unitChars(u: Unit): number {
  let n = 0;
  for (const t of u.texts) n += codePointLength(t);
  return n;
}

/** Model ids that take max_completion_tokens (reasoning models) when we inject a default. */
function prefersCompletionTokens(model: string): boolean {
  return /^(?:.*\/)?(?:o\d|gpt-5)/i.test(model);
}

export interface InspectOptions {
  /** For tests/bench: time spent tokenizing is added here (ns via the given clock). */
  tokenClock?: () => number;
  tokenTime?: { ns: number };
}

export function inspect(p: Prepared, ctx: RequestCtx, rawBody: Buffer | undefined, opts: InspectOptions = {}): Decision {
  const { cfg } = p;
  const L = ctx.limits;
  if (rawBody === undefined) {
    // Kong could not hand the body over within the cap (larger than the cap, spooled).
    return deny(ctx, gatewayError('too_large', 'body_too_large', 'The request body is too large.'), 'body_too_large');
  }
  if (rawBody.length === 0) return passThrough(ctx, ctx.endpoint ?? 'other');
  if (rawBody.length > L.maxBodyBytes) return deny(ctx, gatewayError('too_large', 'body_too_large', 'The request body is too large.'), 'body_too_large');
  if (ctx.endpoint === undefined) {
    if (cfg.unknown_endpoint === 'allow') return passThrough(ctx, 'other');
    return deny(ctx, gatewayError('invalid_request', 'unknown_endpoint', 'This endpoint is not supported by the gateway.'), 'unknown_endpoint');
  }
  if (!ctx.contentTypeChecked && !isJsonContentType(ctx.contentType)) {
    return deny(ctx, gatewayError('unsupported_media_type', 'unsupported_content_type', 'The request body must be JSON (Content-Type: application/json).'), 'unsupported_content_type');
  }
  const kind = ctx.endpoint;
  const ev = { endpoint: kind };

  const parsed = parseBody(rawBody, cfg.max_json_depth, cfg.max_array_items);
  if (!parsed.ok) {
    const msg =
      parsed.code === 'invalid_utf8'
        ? 'The request body is not valid UTF-8.'
        : parsed.code === 'invalid_json'
          ? 'The request body is not valid JSON.'
          : parsed.code === 'duplicate_key'
            ? 'The request body repeats a key in one object.'
            : 'The request body is nested or sized beyond what the gateway accepts.';
    return deny(ctx, invalid(parsed.code, msg), parsed.code, ev);
  }
  if (!isObj(parsed.value)) return deny(ctx, invalid('invalid_body', 'The request body must be a JSON object.'), 'invalid_body', ev);
  const body = parsed.value;

  const v = getValidators(cfg.max_array_items).validate(kind, body);
  if (!v.ok) return deny(ctx, invalid('invalid_body', 'The request body does not match the expected format for this endpoint.', v.param), 'schema', ev);

  const changes: string[] = [];
  // ---- unknown top-level fields
  const known = KNOWN_FIELDS[kind];
  const unknown = Object.keys(body).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    if (cfg.unknown_fields === 'reject') return deny(ctx, invalid('unknown_parameter', 'The request contains a parameter the gateway does not accept.', unknown[0]!.replace(/[^A-Za-z0-9_]/g, '').slice(0, 64)), 'unknown_field', ev);
    if (cfg.unknown_fields === 'strip') {
      for (const k of unknown) delete body[k];
      changes.push('strip_unknown');
    }
  }

  // ---- model
  const model = String(body.model);
  const evm = { ...ev, model };
  const routeAllows = matchesAllowlist(model, cfg.allowed_models);
  const tenantAllows = L.identityModels === undefined || matchesAllowlist(model, L.identityModels);
  if (!routeAllows || !tenantAllows) {
    return deny(ctx, gatewayError('forbidden', 'model_not_allowed', 'The requested model is not allowed for this key.', { param: 'model' }), 'model_not_allowed', evm);
  }

  // ---- units (messages / prompts / inputs)
  const scanRoles = new Set(cfg.injection.scan_roles);
  let units: Unit[] = [];
  let turnsArray: unknown[] | undefined;
  let turnsField: 'messages' | 'input' | undefined;
  switch (kind) {
    case 'chat':
      turnsArray = body.messages as unknown[];
      turnsField = 'messages';
      units = turnsArray.map((m) => chatUnit(m as Json, scanRoles));
      break;
    case 'completions': {
      const pr = body.prompt;
      const prompts = typeof pr === 'string' ? [pr] : (pr as unknown[]).filter((x): x is string => typeof x === 'string');
      units = prompts.map((t) => ({ role: 'prompt', texts: [t], images: [], otherParts: 0, extraText: [], scan: true, system: false }));
      if (typeof body.suffix === 'string') units.push({ role: 'suffix', texts: [body.suffix], images: [], otherParts: 0, extraText: [], scan: true, system: false });
      break;
    }
    case 'embeddings': {
      const inp = body.input;
      const inputs = typeof inp === 'string' ? [inp] : (inp as unknown[]).filter((x): x is string => typeof x === 'string');
      units = inputs.map((t) => ({ role: 'input', texts: [t], images: [], otherParts: 0, extraText: [], scan: false, system: false }));
      break;
    }
    case 'responses': {
      const inp = body.input;
      if (typeof inp === 'string') units = [{ role: 'user', texts: [inp], images: [], otherParts: 0, extraText: [], scan: true, system: false }];
      else if (Array.isArray(inp)) {
        turnsArray = inp;
        turnsField = 'input';
        units = inp.map((it) => responsesUnit(it as Json, scanRoles));
      }
      if (typeof body.instructions === 'string') units.unshift({ role: 'instructions', texts: [body.instructions], images: [], otherParts: 0, extraText: [], scan: scanRoles.has('system'), system: true });
      break;
    }
  }

  // ---- per-message characters
  for (const u of units) {
    if (unitChars(u) > L.maxMessageChars) return deny(ctx, invalid('message_too_long', 'A message in the request is longer than allowed.'), 'message_too_long', evm);
  }

  // ---- turns
  if (turnsArray && turnsField && turnsArray.length > L.maxTurns) {
    if (cfg.turns_policy === 'reject') return deny(ctx, invalid('too_many_messages', 'The request has more messages than allowed.', turnsField), 'too_many_messages', evm);
    const kept = truncateOldest(turnsArray, units.slice(units.length - turnsArray.length), L.maxTurns, kind);
    if (!kept) return deny(ctx, invalid('too_many_messages', 'The request has more messages than allowed.', turnsField), 'too_many_messages', evm);
    body[turnsField] = kept.items;
    const offset = units.length - turnsArray.length;
    units = [...units.slice(0, offset), ...kept.units];
    changes.push('truncate_turns');
  }

  // ---- input tokens
  const enc = encodingForModel(model);
  const tc = new TokenCounter(enc, L.maxInputTokens);
  const t0 = opts.tokenClock?.();
  const imgOpts: ImageCostOptions = { mode: cfg.image_tokens, flat: cfg.image_flat_tokens };
  for (const u of units) {
    if (kind === 'chat' || (kind === 'responses' && u.role !== 'instructions')) tc.add(3);
    if (kind === 'chat') tc.text(u.role);
    for (const t of u.texts) tc.text(t);
    for (const t of u.extraText) {
      tc.text(t);
      tc.add(1);
    }
    for (const img of u.images) tc.add(imageTokens(img.detail, dataUrlImageSize(img.url), imgOpts));
    tc.add(u.otherParts * cfg.image_flat_tokens);
    if (tc.over) break;
  }
  if (kind === 'chat') tc.add(3);
  // token-array prompts / inputs count as themselves
  for (const field of ['prompt', 'input'] as const) {
    const val = body[field];
    if ((kind === 'completions' || kind === 'embeddings') && Array.isArray(val)) {
      for (const x of val) {
        if (typeof x === 'number') tc.add(1);
        else if (Array.isArray(x)) tc.add(x.length);
      }
    }
  }
  for (const key of ['tools', 'functions'] as const) {
    const list = body[key];
    if (Array.isArray(list)) {
      for (const tool of list) {
        tc.text(JSON.stringify(isObj(tool) && isObj(tool.function) ? tool.function : tool));
        tc.add(8);
      }
    }
  }
  if (isObj(body.response_format) && isObj(body.response_format.json_schema)) tc.text(JSON.stringify(body.response_format.json_schema));
  if (opts.tokenClock && opts.tokenTime && t0 !== undefined) opts.tokenTime.ns += opts.tokenClock() - t0;
  if (tc.over) return deny(ctx, invalid('input_tokens_exceeded', 'The request has more input tokens than allowed.'), 'input_tokens_exceeded', evm);

  // ---- output tokens
  let maxTokens = 0;
  if (kind !== 'embeddings') {
    const fields = kind === 'chat' ? ['max_completion_tokens', 'max_tokens'] : kind === 'completions' ? ['max_tokens'] : ['max_output_tokens'];
    let found = false;
    for (const f of fields) {
      const val = body[f];
      if (typeof val !== 'number') continue;
      found = true;
      let final = val;
      if (val > L.maxTokensCap) {
        if (cfg.over_max_tokens === 'reject') return deny(ctx, invalid('max_tokens_exceeded', 'The requested output token limit is larger than allowed.', f), 'max_tokens_exceeded', evm);
        final = L.maxTokensCap;
        body[f] = final;
        changes.push('clamp_max_tokens');
      }
      maxTokens = Math.max(maxTokens, final);
    }
    if (!found) {
      if (cfg.inject_max_tokens) {
        const f = kind === 'chat' ? (prefersCompletionTokens(model) ? 'max_completion_tokens' : 'max_tokens') : (fields[0] as string);
        maxTokens = Math.min(L.defaultMaxTokens, L.maxTokensCap);
        body[f] = maxTokens;
        changes.push('inject_max_tokens');
      } else {
        maxTokens = L.maxTokensCap;
      }
    }
  }

  // ---- n / best_of
  let n = 1;
  for (const f of kind === 'completions' ? ['n', 'best_of'] : kind === 'chat' ? ['n'] : []) {
    const val = body[f];
    if (typeof val !== 'number') continue;
    let final = val;
    if (val > L.maxN) {
      final = L.maxN;
      body[f] = final;
      changes.push(`clamp_${f}`);
    }
    n = Math.max(n, final);
  }
  // A completions prompt array is a batch: each prompt gets n completions.
  if (kind === 'completions' && Array.isArray(body.prompt)) n *= Math.max(1, (body.prompt as unknown[]).length);

  // ---- streaming usage
  const stream = body.stream === true;
  let includeUsageInjected = false;
  if (stream && cfg.inject_include_usage && (kind === 'chat' || kind === 'completions')) {
    const so = isObj(body.stream_options) ? body.stream_options : undefined;
    if (so?.include_usage !== true) {
      body.stream_options = { ...(so ?? {}), include_usage: true };
      includeUsageInjected = true;
      changes.push('include_usage');
    }
  }

  // ---- prompt injection
  let upstreamHeaders: Record<string, string> | undefined;
  let flagged: { score: number } | undefined;
  let event: GuardEventFields | undefined;
  const promptHash = contentFingerprint(JSON.stringify(units.map((u) => u.texts)));
  if (cfg.injection.enabled && kind !== 'embeddings') {
    const texts: string[] = [];
    for (const u of units) if (u.scan) texts.push(...u.texts);
    if (texts.length > 0) {
      const s = scoreTexts(texts, p.rules.rules);
      if (s.score >= cfg.injection.threshold) {
        const base = { reason: 'prompt_injection', rules: s.rules.join(','), score: s.score, endpoint: kind, model, tenant_id: ctx.identity?.tenant_id, key_id: ctx.identity?.key_id, prompt_hash: promptHash };
        if (cfg.injection.action === 'block') {
          return {
            action: 'deny',
            error: invalid('content_policy_violation', 'The request was rejected by the gateway content policy.'),
            reason: 'prompt_injection',
            requestId: ctx.requestId,
            event: { outcome: 'blocked', ...base },
          };
        }
        if (cfg.injection.action === 'flag') {
          flagged = { score: s.score };
          upstreamHeaders = { [cfg.injection.flag_header.toLowerCase()]: String(s.score) };
          event = { outcome: 'flagged', ...base };
        } else {
          event = { outcome: 'logged', ...base };
        }
      }
    }
  }

  // ---- PII and secrets in the input
  if (cfg.pii.action !== 'off') {
    const piiRoles = new Set(cfg.pii.scan_roles);
    const policyAction = cfg.pii.action === 'redact' ? 'redact' : 'log';
    const policy: RedactPolicy = {
      entities: Object.fromEntries(cfg.pii.entities.map((e) => [e, policyAction])),
      replacement: cfg.pii.replacement,
      salt: cfg.pii.hash_salt,
      allow: { values: cfg.pii.allow_values, domains: cfg.pii.allow_domains },
    };
    const session = new RedactSession();
    const findings: RedactFinding[] = [];
    const rewritten = rewriteTexts(body, kind, (role) => role === undefined || piiRoles.has(role), (t) => {
      const r = redact(t, policy, session);
      findings.push(...r.findings);
      return cfg.pii.action === 'redact' ? r.text : t;
    });
    if (findings.length > 0) {
      const counts = Object.entries(countByEntity(findings)).map(([e, n]) => `${e}:${n}`).join(',');
      const base = { reason: 'pii_in_input', pii: counts, endpoint: kind, model, tenant_id: ctx.identity?.tenant_id, key_id: ctx.identity?.key_id, prompt_hash: promptHash };
      if (cfg.pii.action === 'block') {
        return { action: 'deny', error: invalid('content_policy_violation', 'The request was rejected by the gateway content policy.'), reason: 'pii_in_input', requestId: ctx.requestId, event: { outcome: 'blocked', ...base } };
      }
      if (rewritten) changes.push('pii_redact');
      // One event per request: an injection flag/log event already carries the request; add counts.
      event = event ? { ...event, pii: counts } : { outcome: cfg.pii.action === 'redact' ? 'flagged' : 'logged', ...base };
    }
  }

  // ---- optional normalised upstream text
  if (cfg.normalise_upstream && normaliseBodyTexts(body, kind)) changes.push('normalise');

  const request: Omit<LlmRequest, 'v'> = {
    ...baseRequest(ctx, kind),
    model,
    stream,
    input_tokens: tc.total,
    max_tokens: maxTokens,
    n,
    prompt_hash: promptHash,
    include_usage_injected: includeUsageInjected,
    ...(flagged ? { flagged } : {}),
  };
  return {
    action: 'pass',
    request: encodeCtx(CTX.request, request),
    body: changes.length > 0 ? JSON.stringify(body) : undefined,
    upstreamHeaders,
    requestId: ctx.requestId,
    event,
    changes,
  };
}

/**
 * Drop the oldest non-system items until `max` remain; then drop items that would start the
 * conversation with an orphan tool result. Undefined when nothing but system items would remain.
 */
function truncateOldest(items: unknown[], units: Unit[], max: number, kind: KnownEndpoint): { items: unknown[]; units: Unit[] } | undefined {
  const keep = items.map(() => true);
  const systemCount = units.filter((u) => u.system).length;
  if (systemCount >= max) return undefined;
  let count = items.length;
  let i = 0;
  // drop oldest non-system
  for (; i < items.length && count > max; i++) {
    if (units[i]!.system) continue;
    keep[i] = false;
    count--;
  }
  // then orphans: tool results / function calls at the head of what remains
  for (let j = 0; j < items.length; j++) {
    if (!keep[j] || units[j]!.system) continue;
    const it = items[j] as Json;
    const orphan = kind === 'chat' ? it.role === 'tool' || it.role === 'function' : !('role' in it);
    if (!orphan) break;
    keep[j] = false;
    count--;
  }
  if (units.every((u, k) => !keep[k] || u.system)) return undefined;
  return { items: items.filter((_, k) => keep[k]), units: units.filter((_, k) => keep[k]) };
}

/** Replace message/prompt/input texts with their normalised form. True when anything changed. */
function normaliseBodyTexts(body: Json, kind: KnownEndpoint): boolean {
  return rewriteTexts(body, kind, () => true, (s) => normalise(s).text);
}

/**
 * Apply `fn` to every message / prompt / input text of the body (in place) whose role passes
 * `roles` (undefined role: prompts, embeddings inputs, responses input strings and instructions
 * — instructions count as 'system'). True when any text changed.
 */
function rewriteTexts(body: Json, kind: KnownEndpoint, roles: (role: string | undefined) => boolean, fn: (s: string) => string): boolean {
  let changed = false;
  const n = (s: string): string => {
    const r = fn(s);
    if (r !== s) changed = true;
    return r;
  };
  const content = (c: unknown): unknown => {
    if (typeof c === 'string') return n(c);
    if (Array.isArray(c)) return c.map((part) => (isObj(part) && typeof part.text === 'string' ? { ...part, text: n(part.text) } : part));
    return c;
  };
  const list = (v: unknown): unknown => (typeof v === 'string' ? n(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? n(x) : x)) : v);
  if (kind === 'chat') {
    body.messages = (body.messages as unknown[]).map((m) => (isObj(m) && 'content' in m && roles(String(m.role)) ? { ...m, content: content(m.content) } : m));
  } else if (kind === 'completions') {
    if (roles(undefined)) body.prompt = list(body.prompt);
  } else if (kind === 'embeddings') {
    if (roles(undefined)) body.input = list(body.input);
  } else if (kind === 'responses') {
    if (typeof body.input === 'string') {
      if (roles(undefined)) body.input = n(body.input);
    } else if (Array.isArray(body.input)) {
      body.input = body.input.map((it) => {
        if (!isObj(it)) return it;
        const isOutput = it.type === 'function_call_output' || it.type === 'custom_tool_call_output';
        if (isOutput && roles('tool') && 'output' in it) return { ...it, output: content(it.output) };
        if ('content' in it && roles(typeof it.role === 'string' ? it.role : undefined)) return { ...it, content: content(it.content) };
        return it;
      });
    }
    if (typeof body.instructions === 'string' && roles('system')) body.instructions = n(body.instructions);
  }
  return changed;
}
