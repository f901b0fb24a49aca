import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { COALESCE_MAX_BATCH } from './client';
import { EncodedArgs, RedisScript } from './script';

const redis = new Redis({ host: '127.0.0.1', port: 6379 });
afterAll(() => redis.disconnect());

describe('RedisScript', () => {
  it('a script Redis has not seen (restart, failover, new node) runs through EVAL, then by its sha', async () => {
    const script = new RedisScript('t', `-- ${randomBytes(8).toString('hex')}\nreturn {tonumber(ARGV[1]) + 1, KEYS[1]}`);
    expect(await redis.script('EXISTS', script.sha)).toEqual([0]);
    expect(await script.run(redis, ['k'], [41])).toEqual([42, 'k']);
    expect(await redis.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run(redis, ['k2'], ['1'])).toEqual([2, 'k2']);
  });

  it('raw replies: integers as numbers, packed binary as the exact bytes; errors from the script reach the caller', async () => {
    const ints = new RedisScript('i', 'return {1, -2, 3}', { rawReply: true });
    expect(await ints.run(redis, [], [])).toEqual([1, -2, 3]);
    const packed = new RedisScript('p', "return struct.pack('<dd', 1.5, -tonumber(ARGV[1]))", { rawReply: true });
    const buf = (await packed.run(redis, [], [1e15])) as Buffer;
    expect([buf.readDoubleLE(0), buf.readDoubleLE(8)]).toEqual([1.5, -1e15]);
    const failing = new RedisScript('f', "return redis.error_reply('ERR nope')");
    await expect(failing.run(redis, [], [])).rejects.toThrow('ERR nope');
  });

  it('a pre-encoded tail of arguments reaches the script exactly as ordinary arguments do (also non-ASCII, also through EVAL)', async () => {
    const src = `-- ${randomBytes(8).toString('hex')}\nreturn {KEYS[1], unpack(ARGV)}`;
    const tail = new EncodedArgs(['größe', '', '60000']);
    const first = new RedisScript('tail', src);
    const cmd = first.begin(1);
    cmd.push('{t}:k', 'é-head', '7');
    expect(await first.send(redis, cmd, tail)).toEqual(['{t}:k', 'é-head', '7', 'größe', '', '60000']); // NOSCRIPT → EVAL
    const again = first.begin(1);
    again.push('{t}:k2', 'x');
    expect(await first.send(redis, again, tail)).toEqual(['{t}:k2', 'x', 'größe', '', '60000']); // EVALSHA
  });

  it('commands of one tick share socket writes (batches of at most COALESCE_MAX_BATCH), each gets its own reply', async () => {
    const client = new Redis({ host: '127.0.0.1', port: 6379 });
    await client.ping();
    const script = new RedisScript('echo', 'return ARGV[1]');
    await script.run(client, [], ['warm']);
    const stream = client.stream as unknown as { write: (...a: unknown[]) => boolean; _writev?: (...a: unknown[]) => void };
    let socketWrites = 0;
    const writev = stream._writev!.bind(stream);
    stream._writev = (...a: unknown[]) => {
      socketWrites++;
      writev(...a);
    };
    const n = 4 * COALESCE_MAX_BATCH;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => script.run(client, [], [`v${i}`])));
    expect(replies).toEqual(Array.from({ length: n }, (_, i) => `v${i}`));
    // one vectored write per batch (a lone command would go out through _write instead)
    expect(socketWrites).toBeGreaterThanOrEqual(4);
    expect(socketWrites).toBeLessThanOrEqual(5);
    client.disconnect();
  });
});
