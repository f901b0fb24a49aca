/**
 * Handler edge cases with a recording fake PDK (no plugin server): unusable config, internal
 * errors (fail closed in redact mode, open in usage_only), upstream errors not read.
 */
import { describe, expect, it } from 'vitest';
import type { KongPdk } from '../core/pdk';
import { Plugin, setRedactEventSink, redisEventSink } from './handler';
import { chatJson } from './testkit';

interface Fake {
  kong: KongPdk;
  calls: string[];
  exits: Array<{ status: number; body: unknown; headers?: Record<string, unknown> }>;
  logs: string[];
  ctx: Map<string, string>;
}

function fake(opts: { status?: number; body?: Buffer | string; headers?: Record<string, string[]>; bodyThrows?: boolean } = {}): Fake {
  const calls: string[] = [];
  const exits: Fake['exits'] = [];
  const logs: string[] = [];
  const ctx = new Map<string, string>();
  const rec = <T>(name: string, v: T) => {
    calls.push(name);
    return Promise.resolve(v);
  };
  const log = (level: string) => (...a: unknown[]) => {
    calls.push(`log.${level}`);
    logs.push(a.join(' '));
    return Promise.resolve();
  };
  const kong = {
    service: {
      response: {
        getStatus: () => rec('getStatus', opts.status ?? 200),
        getHeaders: () => rec('getHeaders', opts.headers ?? { 'content-type': ['application/json'] }),
        getRawBody: () => {
          calls.push('getRawBody');
          if (opts.bodyThrows) return Promise.reject(new Error('socket closed: canary-secret-value'));
          return Promise.resolve(opts.body ?? Buffer.from(chatJson('hello')));
        },
      },
    },
    ctx: {
      shared: {
        get: (k: string) => rec(`ctx.get(${k})`, ctx.get(k)),
        set: (k: string, v: string) => {
          ctx.set(k, v);
          return rec(`ctx.set(${k})`, undefined);
        },
      },
    },
    response: {
      exit: (status: number, body?: unknown, headers?: Record<string, unknown>) => {
        calls.push('exit');
        exits.push({ status, body, headers });
        return Promise.resolve();
      },
    },
    log: { err: log('err'), warn: log('warn'), notice: log('notice'), info: log('info'), debug: log('debug') },
  } as unknown as KongPdk;
  return { kong, calls, exits, logs, ctx };
}

describe('handler with a fake PDK', () => {
  it('an unusable config (hash without salt) withholds responses, never throws from the constructor', async () => {
    const p = new Plugin({ replacement: 'hash' });
    const f = fake();
    await p.response(f.kong);
    expect(f.exits[0]?.status).toBe(502);
    expect(f.logs[0]).toContain('configuration unusable');
    expect(() => new Plugin({ mode: 'nonsense' })).not.toThrow();
  });

  it('Kong extra keys and null fields in the config are ignored', async () => {
    const p = new Plugin({ route_id: 'r', service_id: null, __key__: 'k', __seq__: 3, $refs: {}, salt: null, mode: 'redact' });
    const f = fake({ body: Buffer.from(chatJson('mail bob@example.com')) });
    await p.response(f.kong);
    expect(f.exits[0]?.status).toBe(200);
    expect(JSON.parse(String(f.exits[0]?.body)).choices[0].message.content).toBe('mail [EMAIL_1]');
  });

  it('an internal error withholds the response in redact mode, passes in usage_only; the log line has no message text', async () => {
    const f = fake({ bodyThrows: true });
    await new Plugin({}).response(f.kong);
    expect(f.exits[0]?.status).toBe(502);
    expect(f.logs.join('\n')).not.toContain('canary');
    const g = fake({ bodyThrows: true });
    await new Plugin({ mode: 'usage_only' }).response(g.kong);
    expect(g.exits).toEqual([]);
  });

  it('upstream errors: one call (status), nothing read, nothing changed', async () => {
    const f = fake({ status: 503 });
    await new Plugin({}).response(f.kong);
    expect(f.calls).toEqual(['getStatus']);
  });

  it('clean JSON without events: 4 calls, usage written, no exit', async () => {
    const f = fake();
    await new Plugin({}).response(f.kong);
    expect(f.calls).toEqual(['getStatus', 'getHeaders', 'getRawBody', 'ctx.set(llm.usage)']);
    expect(JSON.parse(f.ctx.get('llm.usage') as string)).toMatchObject({ v: 1, prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 });
  });

  it('events: one per response, counts only', async () => {
    const seen: unknown[] = [];
    setRedactEventSink({ emit: (_cfg, id, fields) => seen.push({ id, ...fields }) });
    try {
      const f = fake({ body: Buffer.from(chatJson('card 4111 1111 1111 1111 and bob@example.com')) });
      await new Plugin({ events: { enabled: true } }).response(f.kong);
      expect(seen).toEqual([expect.objectContaining({ id: '-', outcome: 'redacted', n_credit_card: 1, n_email: 1, findings: 2 })]);
      expect(JSON.stringify(seen)).not.toMatch(/4111|bob/);
    } finally {
      setRedactEventSink(redisEventSink);
    }
  });
});
