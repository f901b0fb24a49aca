/**
 * Authentication and role check for every route, plus the optional IP allowlist. Each route
 * declares `config: { perm }` (public | read | write | admin); a route without it is refused.
 */
import { BlockList, isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db';
import { AppError } from '../errors';
import { hashAdminToken, roleAllows, type Actor, type Permission } from './tokens';

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
  interface FastifyContextConfig {
    perm?: Permission;
  }
}

export function buildAllowlist(entries: string[]): BlockList | undefined {
  if (!entries.length) return undefined;
  const list = new BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits !== undefined) list.addSubnet(addr, Number(bits), type);
    else list.addAddress(addr, type);
  }
  return list;
}

function ipAllowed(list: BlockList, ip: string): boolean {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (v4mapped) return list.check(v4mapped[1] as string, 'ipv4');
  const fam = isIP(ip);
  if (!fam) return false;
  return list.check(ip, fam === 6 ? 'ipv6' : 'ipv4');
}

const LAST_USED_WRITE_MS = 60_000;

/**
 * Failed-authentication throttle per client address (in process): after MAX_FAILURES bad tokens
 * within WINDOW_MS, the address gets 429 `rate_limited` until the window ends — token guessing
 * stays slow. Successful requests are not counted.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, { n: number; until: number }>();
  constructor(
    private readonly maxFailures = 20,
    private readonly windowMs = 60_000,
  ) {}
  blocked(ip: string, now = Date.now()): number {
    if (this.maxFailures <= 0) return 0;
    const e = this.failures.get(ip);
    if (!e || e.until <= now) return 0;
    return e.n >= this.maxFailures ? Math.ceil((e.until - now) / 1000) : 0;
  }
  fail(ip: string, now = Date.now()): void {
    if (this.maxFailures <= 0) return;
    const e = this.failures.get(ip);
    if (!e || e.until <= now) this.failures.set(ip, { n: 1, until: now + this.windowMs });
    else e.n++;
    if (this.failures.size > 10_000) for (const [k, v] of this.failures) if (v.until <= now) this.failures.delete(k);
  }
}

export function registerAuth(app: FastifyInstance, db: Db, allowlist: string[], throttle = new AuthThrottle()): void {
  const list = buildAllowlist(allowlist);
  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    if (list && !ipAllowed(list, req.ip)) throw new AppError('forbidden', 'this address may not use the admin API');
    const perm = req.routeOptions.config?.perm;
    // Unknown routes fall through to the 404 handler (which reveals nothing).
    if (!req.routeOptions.url) return;
    if (perm === 'public') return;
    const retryAfter = throttle.blocked(req.ip);
    if (retryAfter > 0) {
      void reply.header('retry-after', String(retryAfter));
      throw new AppError('rate_limited', 'too many failed authentication attempts; retry later');
    }
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S{1,512})$/i.exec(header) : null;
    if (!m) {
      throttle.fail(req.ip);
      throw new AppError('unauthorized', 'a bearer admin token is required');
    }
    const hash = hashAdminToken(m[1] as string);
    const row = await db.selectFrom('admin_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
    const now = Date.now();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at.getTime() <= now)) {
      throttle.fail(req.ip);
      throw new AppError('unauthorized', 'invalid admin token');
    }
    const actor: Actor = { tokenId: row.id, name: row.name, role: row.role, tenantId: row.tenant_id };
    if (!perm || !roleAllows(actor.role, perm)) throw new AppError('forbidden', `role ${actor.role} may not do this`);
    req.actor = actor;
    if (!row.last_used_at || now - row.last_used_at.getTime() > LAST_USED_WRITE_MS) {
      await db.updateTable('admin_tokens').set({ last_used_at: new Date(now) }).where('id', '=', row.id).execute();
    }
  });
}

export function actorOf(req: FastifyRequest): Actor {
  if (!req.actor) throw new AppError('unauthorized', 'a bearer admin token is required');
  return req.actor;
}
