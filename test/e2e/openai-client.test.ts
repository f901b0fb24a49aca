/**
 * Must-show of the foundation: the official `openai` npm client, pointed at the Kong-protocol
 * host, gets a chat completion and a streamed one through a route with no plugins and through a
 * route with fixture plugins (running in real kong-js-pluginservers). Assumes `npm run build`
 * ran (pretest) so dist/test-plugins holds the fixtures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startKongHost, type KongHost } from '../harness/kong-host';
import { defaultContent, estimateTokens, startMockLlm, type MockLlm } from '../harness/mock-llm';

let llm: MockLlm;
let host: KongHost;

beforeAll(async () => {
  llm = await startMockLlm();
  host = await startKongHost({
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'mock-llm',
          url: llm.url,
          routes: [
            { name: 'plain', paths: ['/plain'], strip_path: true },
            {
              name: 'with-fixtures',
              paths: ['/fixtures'],
              strip_path: true,
              plugins: [{ name: 'fixture-order-a' }, { name: 'fixture-echo-ctx', config: { keys: ['fixture.order'] } }],
            },
          ],
        },
      ],
    },
  });
});

afterAll(async () => {
  await host?.stop();
  await llm?.stop();
});

const routes = [
  { route: 'plain', fixtures: false },
  { route: 'with-fixtures', fixtures: true },
] as const;

describe.each(routes)('openai client through the host, route $route', ({ route, fixtures }) => {
  const client = () =>
    new OpenAI({ baseURL: `${host.proxyUrl}/${route === 'plain' ? 'plain' : 'fixtures'}/v1`, apiKey: 'sk-e2e', maxRetries: 0, timeout: 10_000 });

  it('gets a chat completion', async () => {
    const before = llm.requests.length;
    const { data, response } = await client()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hello via ${route}` }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('gpt-4o-mini');
    expect(data.choices[0]!.message.content).toBe(defaultContent('gpt-4o-mini'));
    expect(data.usage!.prompt_tokens).toBe(estimateTokens(`hello via ${route}`));
    // The upstream saw the request with the route prefix stripped.
    expect(llm.requests.length).toBe(before + 1);
    expect(llm.requests.at(-1)!.path).toBe('/v1/chat/completions');
    expect(llm.requests.at(-1)!.headers.authorization).toBe('Bearer sk-e2e');
    // The fixture plugins ran: order-a wrote ctx.shared, echo-ctx (another plugin server) read it.
    expect(response.headers.get('x-ctx-fixture-order')).toBe(fixtures ? 'a' : null);
    const trace = host.traces.at(-1)!;
    expect(trace.route).toBe(route);
    expect(trace.status).toBe(200);
    expect(trace.source).toBe('service');
    expect(trace.pdkCalls.length > 0).toBe(fixtures);
  });

  it('gets a streamed chat completion, with the usage chunk', async () => {
    llm.enqueue({ content: `streamed through ${route}`, chunkSize: 3, usage: { prompt_tokens: 9, completion_tokens: 5 } });
    const { data: stream, response } = await client()
      .chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'stream' }],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(`streamed through ${route}`);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 });
    expect(response.headers.get('x-ctx-fixture-order')).toBe(fixtures ? 'a' : null);
  });
});
