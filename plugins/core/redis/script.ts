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
 * Arguments that repeat across calls (a limit plan's groups, say), RESP-encoded once: the
 * command's wire text is then built from the per-call arguments plus this ready-made tail.
 */
export class EncodedArgs {
  readonly resp: string;
  constructor(readonly args: readonly string[]) {
    this.resp = args.map(respBulk).join('');
  }
}

function respBulk(a: string): string {
  return `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
}

/**
 * ioredis's generic command path flattens every argument list with Array.prototype.flat, which
 * costs ~75 ns per argument on Node 20 — for a 4-dimension decision (~30 arguments) the largest
 * share of its Node-side CPU. Our arguments are already a flat array of strings, so the command
 * is created empty and given them afterwards (the constructor only flattens and stringifies).
 * With a tail, `args` still holds every argument (ioredis reads keys from it for Cluster slots,
 * and a command queued while reconnecting is encoded again from it), but the wire text reuses
 * the tail's encoding instead of measuring and concatenating those arguments on every call.
 */
class ScriptCommand extends Command {
  constructor(name: 'evalsha' | 'eval', args: string[], replyEncoding: BufferEncoding | undefined, private readonly tail?: EncodedArgs) {
    super(name, [], { replyEncoding });
    this.args = args;
  }

  override toWritable(socket: object): string | Buffer {
    const tail = this.tail;
    if (!tail) return super.toWritable(socket);
    const args = this.args as string[];
    const own = args.length - tail.args.length;
    let wire = `*${args.length + 1}\r\n${respBulk(this.name)}`;
    for (let i = 0; i < own; i++) wire += respBulk(args[i]!);
    return wire + tail.resp;
  }
}

export interface ScriptOptions {
  /**
   * Leave the reply as Redis sent it: integers as numbers, strings as Buffers (a script that
   * replies with integers or packed binary). Skips the UTF-8 decoding ioredis applies to every
   * EVALSHA reply.
   */
  rawReply?: boolean;
}

export class RedisScript {
  readonly sha: string;
  private readonly replyEncoding: BufferEncoding | undefined;
  constructor(readonly name: string, readonly source: string, options: ScriptOptions = {}) {
    this.sha = createHash('sha1').update(source).digest('hex');
    this.replyEncoding = options.rawReply ? undefined : 'utf8';
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

  /** `tail`: arguments after those in `cmd`, encoded once (see EncodedArgs). */
  async send(redis: RedisClient, cmd: string[], tail?: EncodedArgs): Promise<unknown> {
    if (tail) for (const a of tail.args) cmd.push(a);
    try {
      coalesceWrites(redis);
      return await redis.sendCommand(new ScriptCommand('evalsha', cmd, this.replyEncoding, tail));
    } catch (e) {
      if (e instanceof Error && e.message.startsWith('NOSCRIPT')) {
        // EVAL runs and caches the script on the node that owns the keys.
        return await redis.sendCommand(new ScriptCommand('eval', [this.source, ...cmd.slice(1)], this.replyEncoding));
      }
      throw e;
    }
  }
}
