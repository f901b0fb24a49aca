/** Builders of OpenAI-shaped upstream bodies for tests and benchmarks. */
import type { LlmRequest } from '../core/context';
import { validateKongConfig } from '../core/schema';
import { Schema, type RedactConfig } from './schema';

export function config(over: Record<string, unknown> = {}): RedactConfig {
  const r = validateKongConfig<RedactConfig>(Schema, over);
  if (!r.ok) throw new Error(`bad test config: ${JSON.stringify(r.errors)}`);
  return r.value;
}

export const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };

export function chatJson(content: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
    ...extra,
  });
}

/** SSE chat stream with the content cut into the given pieces. */
export function chatSse(pieces: string[], opts: { usage?: boolean; crlf?: boolean } = {}): string {
  const eol = opts.crlf ? '\r\n' : '\n';
  const ev = (o: unknown) => `data: ${JSON.stringify(o)}${eol}${eol}`;
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini' };
  const u = opts.usage ? { usage: null } : {};
  let out = ev({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], ...u });
  for (const p of pieces) out += ev({ ...base, choices: [{ index: 0, delta: { content: p }, finish_reason: null }], ...u });
  out += ev({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], ...u });
  if (opts.usage) out += ev({ ...base, choices: [], usage: USAGE });
  return `${out}data: [DONE]${eol}${eol}`;
}

/** Concatenated delta content of an SSE chat stream (what a client shows). */
export function sseContent(body: string): string {
  let out = '';
  for (const block of body.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (!data || data === '[DONE]') continue;
    const o = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string }; text?: string }> };
    for (const c of o.choices ?? []) out += c.delta?.content ?? c.text ?? '';
  }
  return out;
}

export function sseEventCount(body: string): number {
  return body.split(/\r?\n\r?\n/).filter((b) => b.trim().length > 0).length;
}

export function llmRequest(over: Partial<LlmRequest> = {}): LlmRequest {
  return {
    v: 1, request_id: 'req-1', endpoint: 'chat', model: 'gpt-4o-mini', stream: true, input_tokens: 10, max_tokens: 100, n: 1,
    prompt_hash: 'x', include_usage_injected: false, tenant_id: 't', timezone: 'UTC', limits: {}, budgets: {}, ...over,
  };
}

export const jsonHeaders = { 'content-type': ['application/json'] };
export const sseHeaders = { 'content-type': ['text/event-stream; charset=utf-8'] };
