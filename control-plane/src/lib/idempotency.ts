/**
 * `Idempotency-Key` on creates. The first request with a key runs and its response is stored
 * (per admin token, 24 h); a retry with the same key and the same request replays it with
 * `Idempotent-Replayed: true`; the same key with a different request, or while the first is
 * still running, is `idempotency_conflict` (409). Stored responses never hold secrets: a
 * replayed API-key creation returns the key's metadata without the secret (`secret_redacted`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { sha256Hex } from '../../../plugins/core/hash';
import type { Db } from '../db';
import { AppError, badRequest } from '../errors';
import { actorOf } from '../auth/auth.hook';

const TTL_HOURS = 24;

export async function idempotent<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  db: Db,
  run: () => Promise<{ status: number; body: T }>,
  redact: (body: T) => unknown = (b) => b,
): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) {
    const r = await run();
    reply.code(r.status);
    return r.body;
  }
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) throw badRequest('header.idempotency-key: 1-255 visible ASCII characters');
  const actor = actorOf(req);
  const requestHash = sha256Hex(`${req.method} ${req.url.split('?')[0]} ${JSON.stringify(req.body ?? null)}`);

  await db.deleteFrom('idempotency_keys').where('created_at', '<', sql<Date>`now() - interval '${sql.raw(String(TTL_HOURS))} hours'`).execute();
  const inserted = await db
    .insertInto('idempotency_keys')
    .values({ token_id: actor.tokenId, key, request_hash: requestHash })
    .onConflict((oc) => oc.columns(['token_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();

  if (!inserted) {
    const prev = await db.selectFrom('idempotency_keys').selectAll().where('token_id', '=', actor.tokenId).where('key', '=', key).executeTakeFirst();
    if (!prev || prev.request_hash !== requestHash) throw new AppError('idempotency_conflict', 'this Idempotency-Key was already used with a different request');
    if (prev.status_code === null) throw new AppError('idempotency_conflict', 'a request with this Idempotency-Key is still in progress');
    reply.code(prev.status_code).header('idempotent-replayed', 'true');
    return prev.response;
  }

  try {
    const r = await run();
    await db
      .updateTable('idempotency_keys')
      .set({ status_code: r.status, response: JSON.stringify(redact(r.body)) })
      .where('token_id', '=', actor.tokenId)
      .where('key', '=', key)
      .execute();
    reply.code(r.status);
    return r.body;
  } catch (err) {
    // A failed request may be retried with the same key.
    await db.deleteFrom('idempotency_keys').where('token_id', '=', actor.tokenId).where('key', '=', key).execute();
    throw err;
  }
}
