/**
 * The admin API's behaviour, run on PGlite (api.pglite.test.ts) and on real Postgres
 * (api.postgres.test.ts). Redis is real (unique prefix); Kong is the fake admin endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { hashApiKey, keyRecordRedisKey, parseKeyRecord, revocationChannel } from '../../plugins/core/keys';
import { eventStreamKey, eventToStreamFields, makeEvent } from '../../plugins/core/events';
import { LastUsedTracker } from '../src/keys/last-used';
import { startTestCp, type DbKind, type TestCp } from '../test-support/cp';

export function apiSuite(kind: DbKind): void {
  let cp: TestCp;
  let sub: Redis;
  const published: string[] = [];

  beforeAll(async () => {
    cp = await startTestCp(kind, `api${kind}`, { redis: true });
    sub = new Redis('redis://127.0.0.1:6379');
    await sub.subscribe(revocationChannel(cp.prefix));
    sub.on('message', (_ch, msg) => published.push(msg));
  }, 180_000); // PGlite start: ~4 s idle, much longer on a loaded 2-core machine
  afterAll(async () => {
    await sub?.quit();
    await cp?.close();
  });

  const waitFor = async (pred: () => boolean, ms = 2000) => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    return pred();
  };

  describe(`admin API on ${kind}`, () => {
    it('seeds the three tiers with their plans', async () => {
      const r = await cp.call('GET', '/v1/tiers');
      expect(r.status).toBe(200);
      const byName = Object.fromEntries(r.body.data.map((t: { name: string }) => [t.name, t]));
      expect(Object.keys(byName).sort()).toEqual(['balanced', 'permissive', 'strict']);
      expect(byName.strict.limits.requests_per_minute).toBe(20);
      expect(byName.balanced.limits.requests_per_minute).toBe(300);
      expect(byName.permissive.limits.requests_per_minute).toBeGreaterThanOrEqual(1000);
      expect(byName.strict.features).toEqual(['chat_support']);
      expect(byName.balanced.features).toEqual(['chat_support', 'document_analysis', 'code_review']);
      expect(byName.permissive.features).toContain('bulk_processing');
      expect(byName.strict.input.max_tokens_cap).toBe(1024);
    });

    it('exposes Prometheus metrics: requests by route pattern (never raw ids) and the key-sync state', async () => {
      await cp.call('GET', '/v1/tiers/strict');
      const r = await cp.call('GET', '/metrics');
      expect(r.status).toBe(200);
      const text = r.text;
      expect(text).toMatch(/llg_cp_http_requests_total\{method="GET",route="\/v1\/tiers\/:name",status="200"\} \d+/);
      expect(text).not.toContain('route="/v1/tiers/strict"');
      expect(text).toMatch(/llg_cp_key_sync_ok \d/);
      expect(text).toContain('llg_cp_process_cpu_user_seconds_total');
    });

    it('creates, reads, updates and deletes a tier; refuses invalid limits naming the field', async () => {
      const bad = await cp.call('POST', '/v1/tiers', { body: { name: 'gold', limits: { requests_per_minute: 0 } } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('bad_request');
      expect(bad.body.error.message).toContain('limits.requests_per_minute');
      const unknown = await cp.call('POST', '/v1/tiers', { body: { name: 'gold', limits: { requests_per_fortnight: 5 } } });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.message).toContain('requests_per_fortnight');
      const ok = await cp.call('POST', '/v1/tiers', { body: { name: 'gold', limits: { requests_per_minute: 50 }, budgets: { tenant_daily_usd: 2.5 }, features: ['chat_support'] } });
      expect(ok.status, ok.text).toBe(201);
      expect(ok.body.models).toEqual(['*']);
      const dup = await cp.call('POST', '/v1/tiers', { body: { name: 'gold' } });
      expect(dup.status).toBe(409);
      const upd = await cp.call('PATCH', '/v1/tiers/gold', { body: { limits: { requests_per_minute: 60 } } });
      expect(upd.status).toBe(200);
      expect(upd.body.limits.requests_per_minute).toBe(60);
      expect((await cp.call('GET', '/v1/tiers/nope')).status).toBe(404);
      expect((await cp.call('PATCH', '/v1/tiers/nope', { body: { description: 'x' } })).status).toBe(404);
      expect((await cp.call('DELETE', '/v1/tiers/gold')).status).toBe(204);
      expect((await cp.call('GET', '/v1/tiers/gold')).status).toBe(404);
    });

    it('tenants: create, validate, paginate, refuse deleting a tier in use', async () => {
      const noTier = await cp.call('POST', '/v1/tenants', { body: { name: 'X', tier: 'nope' } });
      expect(noTier.status).toBe(400);
      expect(noTier.body.error.message).toContain('tier');
      const badTz = await cp.call('POST', '/v1/tenants', { body: { name: 'X', tier: 'strict', timezone: 'Mars/Olympus' } });
      expect(badTz.status).toBe(400);
      expect(badTz.body.error.message).toContain('timezone');
      const missing = await cp.call('POST', '/v1/tenants', { body: { tier: 'strict' } });
      expect(missing.status).toBe(400);
      expect(missing.body.error.message).toContain('body.name');
      for (const id of ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e']) {
        const r = await cp.call('POST', '/v1/tenants', { body: { id, name: id.toUpperCase(), tier: 'balanced', timezone: 'Europe/Paris', budgets: { tenant_daily_usd: 1 } } });
        expect(r.status, r.text).toBe(201);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: { status: number; body: { data: Array<{ id: string }>; next_cursor: string | null } } = await cp.call('GET', `/v1/tenants?tier=balanced&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(r.status).toBe(200);
        seen.push(...r.body.data.map((t) => t.id));
        cursor = r.body.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen.filter((s) => s.startsWith('pg-'))).toEqual(['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e']);
      expect(pages).toBeGreaterThanOrEqual(3);
      expect((await cp.call('GET', '/v1/tenants?cursor=%%%garbage')).status).toBe(400);
      const inUse = await cp.call('DELETE', '/v1/tiers/balanced');
      expect(inUse.status).toBe(409);
      const patched = await cp.call('PATCH', '/v1/tenants/pg-a', { body: { tier: 'strict', models: ['gpt-4o-mini'] } });
      expect(patched.status).toBe(200);
      expect(patched.body.tier).toBe('strict');
      expect((await cp.call('PATCH', '/v1/tenants/pg-zz', { body: { name: 'x' } })).status).toBe(404);
      expect((await cp.call('DELETE', '/v1/tenants/pg-e')).status).toBe(204);
      expect((await cp.call('GET', '/v1/tenants/pg-e')).status).toBe(404);
    });

    it('API keys: secret once, record in Redis, rotation in the lineage, revocation published', async () => {
      await cp.call('POST', '/v1/tenants', { body: { id: 'keys-t', name: 'Keys', tier: 'strict' } });
      const created = await cp.call('POST', '/v1/tenants/keys-t/keys', { body: { name: 'ci', scopes: { models: ['gpt-4o-mini'] } } });
      expect(created.status, created.text).toBe(201);
      const secret: string = created.body.secret;
      expect(secret).toMatch(/^lg_live_[1-9A-HJ-NP-Za-km-z]{32,64}$/);
      expect(created.body.delivery).toBe('ok');
      const id: string = created.body.key.id;
      const got = await cp.call('GET', `/v1/keys/${id}`);
      expect(got.text).not.toContain(secret);
      expect(got.text).not.toContain(hashApiKey(secret));
      expect(got.body.prefix).toBe(secret.slice(0, 12));

      const rec = parseKeyRecord(await cp.redis!.get(keyRecordRedisKey(cp.prefix, hashApiKey(secret))));
      expect(rec).toMatchObject({ v: 1, key_id: id, tenant_id: 'keys-t', lineage_id: id, revoked: false, expires_at: null, scopes: { models: ['gpt-4o-mini'] } });

      const rot = await cp.call('POST', `/v1/keys/${id}/rotate`, { body: { overlap_seconds: 120 } });
      expect(rot.status, rot.text).toBe(201);
      const newSecret: string = rot.body.secret;
      expect(newSecret).not.toBe(secret);
      expect(rot.body.key.lineage_id).toBe(id);
      expect(rot.body.key.rotated_from).toBe(id);
      const oldExp = Date.parse(rot.body.previous.expires_at);
      expect(Math.abs(oldExp - (Date.now() + 120_000))).toBeLessThan(15_000);
      const oldRec = parseKeyRecord(await cp.redis!.get(keyRecordRedisKey(cp.prefix, hashApiKey(secret))));
      const newRec = parseKeyRecord(await cp.redis!.get(keyRecordRedisKey(cp.prefix, hashApiKey(newSecret))));
      expect(oldRec?.expires_at).toBe(oldExp);
      expect(newRec).toMatchObject({ lineage_id: id, revoked: false, expires_at: null });
      expect(await waitFor(() => published.includes(hashApiKey(secret)))).toBe(true);
      const again = await cp.call('POST', `/v1/keys/${id}/rotate`, { body: {} });
      expect(again.status).toBe(409);

      const rev = await cp.call('POST', `/v1/keys/${rot.body.key.id}/revoke`);
      expect(rev.status).toBe(200);
      expect(rev.body.key.status).toBe('revoked');
      const revRec = parseKeyRecord(await cp.redis!.get(keyRecordRedisKey(cp.prefix, hashApiKey(newSecret))));
      expect(revRec?.revoked).toBe(true);
      expect(await waitFor(() => published.includes(hashApiKey(newSecret)))).toBe(true);

      const list = await cp.call('GET', '/v1/tenants/keys-t/keys?include_revoked=true');
      expect(list.body.data).toHaveLength(2);
      expect(list.text).not.toContain(secret);
      expect((await cp.call('GET', '/v1/keys/00000000-0000-7000-8000-000000000000')).status).toBe(404);
      expect((await cp.call('POST', '/v1/tenants/nope/keys', { body: {} })).status).toBe(404);
      const past = await cp.call('POST', '/v1/tenants/keys-t/keys', { body: { expires_at: '2001-01-01T00:00:00Z' } });
      expect(past.status).toBe(400);
      expect(past.body.error.message).toContain('expires_at');
    });

    it('resync rebuilds Redis from Postgres and drops stray records', async () => {
      const stray = keyRecordRedisKey(cp.prefix, 'f'.repeat(64));
      await cp.redis!.set(stray, '{"v":1}');
      const k = await cp.call('POST', '/v1/tenants/keys-t/keys', { body: {} });
      const rk = keyRecordRedisKey(cp.prefix, hashApiKey(k.body.secret));
      await cp.redis!.del(rk);
      const r = await cp.call('POST', '/v1/keys/resync');
      expect(r.status, r.text).toBe(200);
      expect(r.body.removed).toBeGreaterThanOrEqual(1);
      expect(await cp.redis!.exists(stray)).toBe(0);
      expect(parseKeyRecord(await cp.redis!.get(rk))?.key_id).toBe(k.body.key.id);
      expect(await waitFor(() => published.includes('*'))).toBe(true);
    });

    it('last_used_at follows the gateway auth events', async () => {
      const k = await cp.call('POST', '/v1/tenants/keys-t/keys', { body: { name: 'used' } });
      const tracker = new LastUsedTracker('redis://127.0.0.1:6379', cp.prefix, cp.db, 200);
      try {
        await tracker.init();
        const ts = Date.now() - 5_000;
        const stream = eventStreamKey(cp.prefix);
        await cp.redis!.xadd(stream, '*', ...eventToStreamFields(makeEvent('auth', ts, 'r1', { outcome: 'allowed', method: 'api_key', tenant_id: 'keys-t', key_id: k.body.key.id })));
        await cp.redis!.xadd(stream, '*', ...eventToStreamFields(makeEvent('auth', ts + 1000, 'r2', { outcome: 'denied', method: 'api_key', key_id: k.body.key.id })));
        expect(await tracker.pollOnce(500)).toBe(1);
        const got = await cp.call('GET', `/v1/keys/${k.body.key.id}`);
        expect(Date.parse(got.body.last_used_at)).toBe(ts);
      } finally {
        await tracker.close();
      }
    });

    it('Idempotency-Key replays creates, refuses reuse with another body, never stores the secret', async () => {
      const h = { 'idempotency-key': `idem-${kind}-1` };
      const a = await cp.call('POST', '/v1/tenants', { body: { id: 'idem-t', name: 'Idem', tier: 'strict' }, headers: h });
      const b = await cp.call('POST', '/v1/tenants', { body: { id: 'idem-t', name: 'Idem', tier: 'strict' }, headers: h });
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(b.headers['idempotent-replayed']).toBe('true');
      expect(b.body.id).toBe('idem-t');
      const c = await cp.call('POST', '/v1/tenants', { body: { id: 'idem-t2', name: 'Other', tier: 'strict' }, headers: h });
      expect(c.status).toBe(409);
      expect(c.body.error.code).toBe('idempotency_conflict');
      const kh = { 'idempotency-key': `idem-${kind}-key` };
      const k1 = await cp.call('POST', '/v1/tenants/idem-t/keys', { body: { name: 'x' }, headers: kh });
      const k2 = await cp.call('POST', '/v1/tenants/idem-t/keys', { body: { name: 'x' }, headers: kh });
      expect(k1.body.secret).toMatch(/^lg_live_/);
      expect(k2.body.key.id).toBe(k1.body.key.id);
      expect(k2.body.secret).toBeUndefined();
      expect(k2.body.secret_redacted).toBe(true);
      const stored = await cp.db.selectFrom('idempotency_keys').select('response').execute();
      expect(JSON.stringify(stored)).not.toContain(k1.body.secret);
      const keys = await cp.call('GET', '/v1/tenants/idem-t/keys');
      expect(keys.body.data).toHaveLength(1);
    });

    it('audits every write with actor and before/after, and no secrets', async () => {
      const r = await cp.call('GET', '/v1/audit?limit=200');
      expect(r.status).toBe(200);
      const actions = new Set(r.body.data.map((e: { action: string }) => e.action));
      for (const a of ['tier.create', 'tier.update', 'tier.delete', 'tenant.create', 'tenant.update', 'tenant.delete', 'key.create', 'key.rotate', 'key.revoke', 'keys.resync']) expect(actions).toContain(a);
      const upd = r.body.data.find((e: { action: string }) => e.action === 'tier.update');
      expect(upd.actor_name).toBe('bootstrap');
      expect(upd.before.limits.requests_per_minute).toBe(50);
      expect(upd.after.limits.requests_per_minute).toBe(60);
      const all = JSON.stringify(r.body) + JSON.stringify(await cp.db.selectFrom('audit_log').selectAll().execute());
      expect(all).not.toMatch(/lg_live_[1-9A-HJ-NP-Za-km-z]{20,}/);
      expect(all).not.toMatch(/"hash"/);
    });

    it('admin tokens: secret once, hashed, revocation takes effect', async () => {
      const c = await cp.call('POST', '/v1/admin-tokens', { body: { name: 'ops', role: 'viewer' } });
      expect(c.status, c.text).toBe(201);
      const tok: string = c.body.secret;
      expect((await cp.call('GET', '/v1/tiers', { token: tok })).status).toBe(200);
      expect((await cp.call('POST', '/v1/tiers', { token: tok, body: { name: 'x' } })).status).toBe(403);
      expect((await cp.call('DELETE', `/v1/admin-tokens/${c.body.token.id}`)).status).toBe(200);
      const after = await cp.call('GET', '/v1/tiers', { token: tok });
      expect(after.status).toBe(401);
      expect(after.body.error.code).toBe('unauthorized');
      expect(after.body.error.request_id).toBeTruthy();
    });

    it('renders tiers and tenants into llm-auth and pushes them (debounced)', async () => {
      await cp.call('PATCH', '/v1/tiers/strict', { body: { limits: { requests_per_minute: 21, concurrent_requests: 2 } } });
      const res = await cp.delivery.flush();
      expect(res?.status === 'applied' || res?.status === 'unchanged', JSON.stringify(res)).toBe(true);
      const cfg = cp.kong!.current as { plugins: Array<{ name: string; config: { tiers: Array<{ name: string; limits: { requests_per_minute: number } }>; tenants: Array<{ id: string }> } }> };
      const auth = cfg.plugins.find((p) => p.name === 'llm-auth')!;
      expect(auth.config.tiers.find((t) => t.name === 'strict')!.limits.requests_per_minute).toBe(21);
      expect(auth.config.tenants.map((t) => t.id)).toContain('pg-a');
      expect(auth.config.tenants.map((t) => t.id)).not.toContain('pg-e');
      const versions = await cp.call('GET', '/v1/config/versions');
      expect(versions.status).toBe(200);
      expect(versions.body.data[0].push_status).toMatch(/applied|unchanged/);
    });

    it('an automatic push that cannot reach the gateway is retried until it lands', async () => {
      cp.kong!.failNext.push('drop', 503);
      await cp.call('PATCH', '/v1/tenants/pg-c', { body: { limits: { requests_per_minute: 42 } } });
      const first = await cp.delivery.flush();
      expect(first?.status).toBe('failed');
      const tenantsNow = () => (cp.kong!.current as { plugins: Array<{ name: string; config: { tenants: Array<{ id: string; limits?: { requests_per_minute?: number } }> } }> }).plugins.find((p) => p.name === 'llm-auth')!.config.tenants;
      const landed = await waitFor(() => tenantsNow().find((t) => t.id === 'pg-c')?.limits?.requests_per_minute === 42, 8_000);
      expect(landed).toBe(true);
      expect(cp.kong!.failNext).toEqual([]);
    });

    it('diff, export, manual push, rollback, and Kong refusals reported readably', async () => {
      const before = await cp.call('GET', '/v1/config/versions');
      const appliedVersion: number = before.body.data[0].version;
      await cp.call('PATCH', '/v1/tenants/pg-b', { body: { limits: { requests_per_minute: 77 } } });
      cp.delivery.close(); // keep the change un-pushed to diff it
      const diff = await cp.call('GET', '/v1/config/diff');
      expect(diff.status, diff.text).toBe(200);
      expect(diff.body.from).toBe(appliedVersion);
      expect(diff.body.to).toBe('current');
      expect(diff.body.changes).toContainEqual(expect.objectContaining({ path: 'plugins[name=llm-auth].config.tenants[id=pg-b].limits.requests_per_minute', after: 77 }));
      const exp = await cp.call('GET', '/v1/config/export');
      expect(exp.status).toBe(200);
      expect(exp.headers['content-type']).toContain('yaml');
      expect(exp.text).toContain('_format_version');
      expect(exp.text).toContain('pg-b');
      expect((await cp.call('GET', '/v1/config/export?format=json')).body._format_version).toBe('3.0');

      cp.kong!.failNext.push(400);
      const refused = await cp.call('POST', '/v1/config/push');
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toContain('plugin llm-auth (5f1c): config.tenants.1.timezone: expected one of');
      const v = await cp.call('GET', '/v1/config/versions?limit=1');
      expect(v.body.data[0]).toMatchObject({ push_status: 'refused' });
      expect(v.body.data[0].push_error).toContain('config.tenants.1.timezone');
      cp.kong!.failNext.push('drop');
      const down = await cp.call('POST', '/v1/config/push');
      expect(down.status).toBe(409);
      expect(down.body.error.message).toMatch(/could not be delivered/);

      const ok = await cp.call('POST', '/v1/config/push');
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body.status).toBe('applied');
      const rb = await cp.call('POST', `/v1/config/rollback/${appliedVersion}`);
      expect(rb.status, rb.text).toBe(200);
      expect(rb.body.version).toBeGreaterThan(ok.body.version);
      const auth = (cp.kong!.current as { plugins: Array<{ name: string; config: { tenants: Array<{ id: string; limits?: { requests_per_minute?: number } }> } }> }).plugins.find((p) => p.name === 'llm-auth')!;
      expect(auth.config.tenants.find((t) => t.id === 'pg-b')!.limits?.requests_per_minute).not.toBe(77);
      expect((await cp.call('POST', '/v1/config/rollback/999999')).status).toBe(404);
      expect((await cp.call('GET', '/v1/config/diff?from=999999')).status).toBe(404);
      const state = await cp.call('GET', '/v1/config');
      expect(state.body).toMatchObject({ valid: true, kong_admin_url_set: true });
    });
  });
}
