/**
 * Writes gateway events to the Redis Stream `<prefix>events` with `XADD MAXLEN ~ <bound>`,
 * outside the limit scripts and off the request path: the log phase hands events over and
 * returns. Events are metadata only (see plugins/core/events.ts). While Redis is down, events
 * are dropped (counted), never queued without bound.
 */
import { eventStreamKey, eventToStreamFields, type GatewayEvent } from '../events';
import { getRedis, type RedisSettings } from './client';

export interface EventStreamOptions {
  prefix: string;
  maxlen: number;
}

const stats = { written: 0, dropped: 0 };

export function eventWriterStats(): Readonly<typeof stats> {
  return stats;
}

/** Fire-and-forget: returns a promise only so tests can wait for the write. */
export function writeEvents(settings: RedisSettings, opts: EventStreamOptions, events: GatewayEvent[]): Promise<void> {
  if (events.length === 0) return Promise.resolve();
  const redis = getRedis(settings);
  const key = eventStreamKey(opts.prefix);
  const pipeline = redis.pipeline();
  for (const e of events) pipeline.xadd(key, 'MAXLEN', '~', String(opts.maxlen), '*', ...eventToStreamFields(e));
  return pipeline.exec().then(
    (results) => {
      for (const [err] of results ?? []) {
        if (err) stats.dropped++;
        else stats.written++;
      }
    },
    () => {
      stats.dropped += events.length;
    },
  );
}
