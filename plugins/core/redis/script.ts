/**
 * A Lua script run by EVALSHA, loaded again on NOSCRIPT (after a Redis restart or failover, or
 * on a Cluster node that has not seen it yet). One round trip in the normal case.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './client';

export class RedisScript {
  readonly sha: string;
  constructor(readonly name: string, readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('NOSCRIPT')) {
        // EVAL runs and caches the script on the node that owns the keys.
        return await redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw e;
    }
  }
}
