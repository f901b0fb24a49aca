/**
 * A Lua script run by EVALSHA, loaded again on NOSCRIPT (after a Redis restart or failover, or
 * on a Cluster node that has not seen it yet). One round trip in the normal case.
 *
 * Scripts are the hot path of every limit and quota decision, so the command is built directly
 * (see ScriptCommand) and its write is coalesced with the other commands of the same tick
 * (coalesceWrites in ./client.ts).
 */
import { createHash } from 'node:crypto';
import { Command } from 'ioredis';
import { coalesceWrites, type RedisClient } from './client';

/**
 * ioredis's generic command path flattens every argument list with Array.prototype.flat, which
 * costs ~75 ns per argument on Node 20 — for a 4-dimension decision (~30 arguments) the largest
 * share of its Node-side CPU. Our arguments are already a flat array of strings, so the command
 * is created empty and given them afterwards (the constructor only flattens and stringifies).
 */
class ScriptCommand extends Command {
  constructor(args: string[], replyEncoding: BufferEncoding | undefined) {
    super('evalsha', [], { replyEncoding });
    this.args = args;
  }
}

export interface ScriptOptions {
  /**
   * The script only returns integers (or arrays of them): skip decoding bulk strings of the
   * reply (as ioredis does for every EVALSHA).
   */
  integerReply?: boolean;
}

export class RedisScript {
  readonly sha: string;
  private readonly replyEncoding: BufferEncoding | undefined;
  constructor(readonly name: string, readonly source: string, options: ScriptOptions = {}) {
    this.sha = createHash('sha1').update(source).digest('hex');
    this.replyEncoding = options.integerReply ? undefined : 'utf8';
  }

  async run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    const cmd = this.begin(keys.length);
    for (const k of keys) cmd.push(k);
    for (const a of args) cmd.push(typeof a === 'string' ? a : String(a));
    return this.send(redis, cmd);
  }

  /** The start of an EVALSHA argument list (sha, number of keys): push the keys, then the arguments, then send(). */
  begin(numKeys: number): string[] {
    return [this.sha, String(numKeys)];
  }

  async send(redis: RedisClient, cmd: string[]): Promise<unknown> {
    try {
      coalesceWrites(redis);
      return await redis.sendCommand(new ScriptCommand(cmd, this.replyEncoding));
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('NOSCRIPT')) {
        // EVAL runs and caches the script on the node that owns the keys.
        return await redis.eval(this.source, ...(cmd.slice(1) as [string, ...string[]]));
      }
      throw e;
    }
  }
}
