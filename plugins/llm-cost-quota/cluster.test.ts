/**
 * The cost scripts on a local 3-node Redis Cluster (started here on free loopback ports, removed
 * after): every key of a decision carries the tenant hash tag, so reserve and settle — which
 * reads the counter keys named in the reservation record — run in one slot, unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { freePort } from '../../test/harness/ports';
import { RedisCostStore } from './store';
import { globalScope, tenantScope } from './budgets';
import { usdToNano } from '../core/money';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'cost-cluster-'));
const procs: ChildProcess[] = [];
let ports: number[] = [];
let cluster: Cluster;

async function clusterPort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + 10_000 > 65_535) continue;
    try {
      // the cluster bus port must be free too
      const bus = await new Promise<boolean>((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(false));
        s.listen(p + 10_000, '127.0.0.1', () => s.close(() => resolve(true)));
      });
      if (bus) return p;
    } catch {
      /* try another */
    }
  }
}

beforeAll(async () => {
  if (!hasRedis) return;
  ports = [await clusterPort(), await clusterPort(), await clusterPort()];
  for (const p of ports) {
    const d = join(dir, String(p));
    mkdirSync(d);
    procs.push(spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(d, 'nodes.conf'), '--save', '', '--appendonly', 'no', '--dir', d], { stdio: 'ignore' }));
  }
  for (const p of ports) {
    for (let i = 0; i < 100 && spawnSync('redis-cli', ['-p', String(p), 'ping']).stdout?.toString().trim() !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 50));
  }
  const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (create.status !== 0) throw new Error(`cluster create failed: ${create.stdout} ${create.stderr}`);
  for (let i = 0; i < 100; i++) {
    const info = spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
    if (info.includes('cluster_state:ok')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  cluster = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
}, 30_000);

afterAll(async () => {
  await cluster?.quit().catch(() => undefined);
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasRedis)('cost scripts on Redis Cluster', () => {
  it('reserve all-or-nothing, 100 of 200 concurrent, settle refunds, for tenants spread over the slots', async () => {
    const store = new RedisCostStore(cluster);
    const now = Date.now();
    const cost = usdToNano(0.01);
    const tenants = ['acme', 'globex', 'initech', 'umbrella'];
    // The tenants' slots are owned by more than one node: the layout is really exercised.
    const slots = (await cluster.cluster('SLOTS')) as unknown as Array<[number, number, [string, number]]>;
    const owners = new Set<number>();
    for (const t of tenants) {
      const slot = Number(await cluster.cluster('KEYSLOT', `{${t}}`));
      owners.add(slots.find(([a, b]) => slot >= a && slot <= b)![2][1]);
    }
    expect(owners.size).toBeGreaterThan(1);
    for (const tenant of tenants) {
      const scope = tenantScope({ prefix: 'llg:c:', tenant_id: tenant, lineage_id: 'L1', budgets: { tenant_daily_nano: usdToNano(1), tenant_monthly_nano: usdToNano(5), key_daily_nano: usdToNano(2), per_minute_nano: usdToNano(10) }, timezone: 'Asia/Kolkata', now, default_thresholds: [80, 100], grace_sec: 3600 });
      const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => store.reserve({ scope, request_id: `r${i}`, cost_nano: cost, shadow: false, record_ttl_sec: 600 })));
      expect(rs.filter((r) => r.admitted)).toHaveLength(100);
      const key = scope.counters.find((c) => c.name === 'tenant_daily')!.key;
      expect(Number(await cluster.hget(key, 's'))).toBe(usdToNano(1));
      const settled = await Promise.all(rs.map((r, i) => (r.admitted ? store.settle({ base: scope.base, request_id: `r${i}`, reserved_nano: cost, actual_nano: 0 }) : null)));
      expect(settled.filter((s) => s?.found)).toHaveLength(100);
      for (const c of scope.counters) expect(Number(await cluster.hget(c.key, 's'))).toBe(0);
    }
    // The global scope, with its own tag, on whatever node owns it.
    const g = globalScope({ prefix: 'llg:c:', daily_nano: 100, timezone: 'UTC', now, thresholds: [100], grace_sec: 60 })!;
    expect((await store.reserve({ scope: g, request_id: 'g', cost_nano: 100, shadow: false, record_ttl_sec: 60 })).admitted).toBe(true);
    expect((await store.reserve({ scope: g, request_id: 'g2', cost_nano: 1, shadow: false, record_ttl_sec: 60 })).admitted).toBe(false);
  });
});
