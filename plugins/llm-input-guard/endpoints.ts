/**
 * Endpoint kinds and their request shapes: path recognition, the JSON Schema of each body
 * (compiled once per distinct bound, module-level cache), and the top-level fields each knows.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import type { KnownEndpoint } from './schema';

/** Path suffix → kind. `/v1/chat/completions`, `/openai/chat/completions/`, ... */
export function endpointFromPath(path: string): KnownEndpoint | undefined {
  let p = path.split('?', 1)[0]!.toLowerCase();
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p.endsWith('/chat/completions')) return 'chat';
  if (p.endsWith('/completions')) return 'completions';
  if (p.endsWith('/embeddings')) return 'embeddings';
  if (p.endsWith('/responses')) return 'responses';
  return undefined;
}

const COMMON = ['model', 'user', 'metadata', 'store', 'service_tier', 'prompt_cache_key', 'safety_identifier'];
const SAMPLING = ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty', 'seed', 'stop', 'logit_bias', 'logprobs', 'top_logprobs'];

export const KNOWN_FIELDS: Record<KnownEndpoint, ReadonlySet<string>> = {
  chat: new Set([
    ...COMMON, ...SAMPLING, 'messages', 'max_tokens', 'max_completion_tokens', 'n', 'stream', 'stream_options', 'tools', 'tool_choice',
    'parallel_tool_calls', 'functions', 'function_call', 'response_format', 'modalities', 'audio', 'prediction', 'reasoning_effort',
    'web_search_options', 'verbosity',
  ]),
  completions: new Set([...COMMON, ...SAMPLING, 'prompt', 'suffix', 'max_tokens', 'n', 'best_of', 'echo', 'stream', 'stream_options']),
  embeddings: new Set([...COMMON, 'input', 'encoding_format', 'dimensions']),
  responses: new Set([
    ...COMMON, 'input', 'instructions', 'max_output_tokens', 'max_tool_calls', 'tools', 'tool_choice', 'parallel_tool_calls', 'temperature',
    'top_p', 'top_logprobs', 'stream', 'stream_options', 'text', 'reasoning', 'truncation', 'include', 'previous_response_id', 'background',
    'prompt', 'conversation',
  ]),
};

const int = (min = 0) => ({ type: 'integer', minimum: min });
const num = (min: number, max: number) => ({ type: 'number', minimum: min, maximum: max });
const str = (maxLength = 65536) => ({ type: 'string', maxLength });
const obj = { type: 'object' };
const nullable = (s: Record<string, unknown>) => ({ anyOf: [s, { type: 'null' }] });

function schemas(maxItems: number): Record<KnownEndpoint, Record<string, unknown>> {
  const arr = (items: unknown, min = 0) => ({ type: 'array', items, minItems: min, maxItems });
  const stop = nullable({ anyOf: [str(), { type: 'array', items: str(), maxItems: 4 }] });
  const streamOptions = nullable({ type: 'object', properties: { include_usage: { type: 'boolean' }, include_obfuscation: { type: 'boolean' } } });
  const model = { type: 'string', minLength: 1, maxLength: 256 };

  const chatPart = {
    type: 'object',
    required: ['type'],
    properties: {
      type: { enum: ['text', 'image_url', 'input_audio', 'file', 'refusal'] },
      text: str(),
      refusal: str(),
      image_url: {
        type: 'object',
        required: ['url'],
        properties: { url: { type: 'string' }, detail: { enum: ['auto', 'low', 'high'] } },
      },
      input_audio: { type: 'object', required: ['data', 'format'], properties: { data: { type: 'string' }, format: { type: 'string' } } },
      file: obj,
    },
    allOf: [
      { if: { properties: { type: { const: 'text' } } }, then: { required: ['text'] } },
      { if: { properties: { type: { const: 'image_url' } } }, then: { required: ['image_url'] } },
      { if: { properties: { type: { const: 'input_audio' } } }, then: { required: ['input_audio'] } },
      { if: { properties: { type: { const: 'file' } } }, then: { required: ['file'] } },
      { if: { properties: { type: { const: 'refusal' } } }, then: { required: ['refusal'] } },
    ],
  };
  const chatContent = { anyOf: [{ type: 'string' }, arr(chatPart, 1), { type: 'null' }] };
  const toolCall = {
    type: 'object',
    required: ['type'],
    properties: {
      id: str(256),
      type: { type: 'string' },
      function: { type: 'object', properties: { name: str(256), arguments: { type: 'string' } } },
    },
  };
  const message = {
    type: 'object',
    required: ['role'],
    properties: {
      role: { enum: ['system', 'developer', 'user', 'assistant', 'tool', 'function'] },
      content: chatContent,
      name: str(256),
      tool_calls: arr(toolCall),
      tool_call_id: str(256),
      function_call: obj,
      refusal: nullable(str()),
      audio: nullable(obj),
    },
    allOf: [
      { if: { properties: { role: { enum: ['system', 'developer', 'user'] } } }, then: { required: ['content'], properties: { content: { anyOf: [{ type: 'string' }, arr(chatPart, 1)] } } } },
      { if: { properties: { role: { const: 'tool' } } }, then: { required: ['content', 'tool_call_id'] } },
    ],
  };
  const tool = {
    type: 'object',
    required: ['type'],
    properties: {
      type: { type: 'string', maxLength: 64 },
      function: { type: 'object', required: ['name'], properties: { name: str(256), description: str(), parameters: obj, strict: nullable({ type: 'boolean' }) } },
    },
  };
  const sampling = {
    temperature: nullable(num(0, 2)),
    top_p: nullable(num(0, 1)),
    presence_penalty: nullable(num(-2, 2)),
    frequency_penalty: nullable(num(-2, 2)),
    seed: nullable({ type: 'integer' }),
    stop,
    logit_bias: nullable(obj),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    user: str(256),
    metadata: nullable(obj),
    store: nullable({ type: 'boolean' }),
    service_tier: nullable(str(64)),
  };

  const tokenArray = { type: 'array', items: { type: 'integer', minimum: 0 }, maxItems };
  const responsesPart = {
    type: 'object',
    required: ['type'],
    properties: { type: { type: 'string', maxLength: 64 }, text: str(), image_url: { type: 'string' }, detail: { enum: ['auto', 'low', 'high'] } },
    allOf: [
      { if: { properties: { type: { enum: ['input_text', 'output_text'] } } }, then: { required: ['text'] } },
    ],
  };
  const responsesItem = {
    type: 'object',
    properties: {
      type: { type: 'string', maxLength: 64 },
      role: { enum: ['system', 'developer', 'user', 'assistant'] },
      content: { anyOf: [{ type: 'string' }, arr(responsesPart)] },
      output: { anyOf: [{ type: 'string' }, arr(responsesPart)] },
    },
    allOf: [{ if: { required: ['role'] }, then: { required: ['content'] } }],
  };

  return {
    chat: {
      type: 'object',
      required: ['model', 'messages'],
      properties: {
        ...sampling,
        model,
        messages: arr(message, 1),
        max_tokens: nullable(int(1)),
        max_completion_tokens: nullable(int(1)),
        n: nullable(int(1)),
        stream: nullable({ type: 'boolean' }),
        stream_options: streamOptions,
        logprobs: nullable({ type: 'boolean' }),
        tools: arr(tool),
        functions: arr(obj),
        parallel_tool_calls: { type: 'boolean' },
        response_format: obj,
        modalities: nullable(arr(str(32))),
      },
    },
    completions: {
      type: 'object',
      required: ['model', 'prompt'],
      properties: {
        ...sampling,
        model,
        prompt: { anyOf: [{ type: 'string' }, arr({ type: 'string' }, 1), { ...tokenArray, minItems: 1 }, arr(tokenArray, 1)] },
        suffix: nullable(str()),
        max_tokens: nullable(int(1)),
        n: nullable(int(1)),
        best_of: nullable(int(1)),
        echo: nullable({ type: 'boolean' }),
        stream: nullable({ type: 'boolean' }),
        stream_options: streamOptions,
        logprobs: nullable({ type: 'integer', minimum: 0, maximum: 5 }),
      },
    },
    embeddings: {
      type: 'object',
      required: ['model', 'input'],
      properties: {
        model,
        input: { anyOf: [{ type: 'string' }, arr({ type: 'string' }, 1), { ...tokenArray, minItems: 1 }, arr(tokenArray, 1)] },
        encoding_format: { enum: ['float', 'base64'] },
        dimensions: int(1),
        user: str(256),
      },
    },
    responses: {
      type: 'object',
      required: ['model'],
      properties: {
        model,
        input: { anyOf: [{ type: 'string' }, arr(responsesItem)] },
        instructions: nullable({ type: 'string' }),
        max_output_tokens: nullable(int(1)),
        tools: arr({ type: 'object', required: ['type'], properties: { type: { type: 'string', maxLength: 64 } } }),
        stream: nullable({ type: 'boolean' }),
        temperature: nullable(num(0, 2)),
        top_p: nullable(num(0, 1)),
        previous_response_id: nullable(str(256)),
        user: str(256),
        metadata: nullable(obj),
        store: nullable({ type: 'boolean' }),
      },
    },
  };
}

export interface Validators {
  validate(kind: KnownEndpoint, body: unknown): { ok: true } | { ok: false; param: string | null };
}

// Module-level: compiled once per distinct bound and shared by every instance with it.
const cache = new Map<number, Record<KnownEndpoint, ValidateFunction>>();

export function getValidators(maxArrayItems: number): Validators {
  let compiled = cache.get(maxArrayItems);
  if (!compiled) {
    const ajv = new Ajv({ allErrors: false, strict: false, allowUnionTypes: true, validateSchema: false });
    const s = schemas(maxArrayItems);
    compiled = {
      chat: ajv.compile(s.chat),
      completions: ajv.compile(s.completions),
      embeddings: ajv.compile(s.embeddings),
      responses: ajv.compile(s.responses),
    };
    if (cache.size > 32) cache.clear();
    cache.set(maxArrayItems, compiled);
  }
  const c = compiled;
  return {
    validate(kind, body) {
      const fn = c[kind];
      if (fn(body)) return { ok: true };
      const err = fn.errors?.[0];
      return { ok: false, param: err ? paramOf(err.instancePath) : null };
    },
  };
}

/** `/messages/2/role` → `messages[2].role` (a location, never a value). */
function paramOf(instancePath: string): string | null {
  if (!instancePath) return null;
  let out = '';
  for (const seg of instancePath.split('/').slice(1)) {
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += (out ? '.' : '') + seg.replace(/[^A-Za-z0-9_]/g, '').slice(0, 64);
  }
  return out || null;
}

export function compiledValidatorCount(): number {
  return cache.size;
}
