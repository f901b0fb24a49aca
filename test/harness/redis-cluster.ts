/**
 * A throwaway 3-node Redis Cluster on loopback ports, for tests that must prove the key layout
 * (one hash tag per decision → one slot → one script call).
 *
 *   const cluster = await startRedisCluster();      // 3 masters, no replicas, ~2 s
 *   new Cluster(cluster.nodes.map(...));             // cluster.nodes = ['127.0.0.1:71xx', ...]
 *   await cluster.stop();                            // kills the servers, removes the temp dir
 *
 * Each node: `redis-server --cluster-enabled yes --port 71xx --save ""` in a temp dir; then
 * `redis-cli --cluster create ... --cluster-replicas 0` answered `yes`. Ports are picked at
 * random in 7100–7199 among free ones (the cluster bus uses port + 10000, checked too), so
 * parallel test files can each start their own cluster. Never touches the shared 6379 Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisClusterHandle {
  /** `127.0.0.1:<port>` of each master. */
  nodes: string[];
  ports: number[];
  dir: string;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function pickPorts(count: number): Promise<number[]> {
  const out: number[] = [];
  const tried = new Set<number>();
  while (out.length < count) {
    if (tried.size >= 100) throw new Error('redis-cluster: no free ports in 7100-7199');
    const p = 7100 + Math.floor(Math.random() * 100);
    if (tried.has(p)) continue;
    tried.add(p);
    if ((await portFree(p)) && (await portFree(p + 10_000))) out.push(p);
  }
  return out;
}

function run(cmd: string, args: string[], input?: string, timeoutMs = 20_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} timed out: ${out.slice(-500)}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-cluster: ${what} not ready within ${timeoutMs} ms`);
}

export async function startRedisCluster(opts: { nodes?: number } = {}): Promise<RedisClusterHandle> {
  const count = opts.nodes ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'llg-redis-cluster-'));
  const ports = await pickPorts(count);
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: 'ignore' },
      );
      children.push(child);
    }
    for (const port of ports) await waitFor(async () => (await run('redis-cli', ['-p', String(port), 'ping'], undefined, 2000)).out.includes('PONG'), `node ${port}`);
    const nodes = ports.map((p) => `127.0.0.1:${p}`);
    const created = await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0'], 'yes\n');
    if (created.code !== 0 || !/All 16384 slots covered/.test(created.out)) throw new Error(`redis-cluster: create failed: ${created.out.slice(-500)}`);
    for (const port of ports) {
      await waitFor(async () => (await run('redis-cli', ['-p', String(port), 'cluster', 'info'], undefined, 2000)).out.includes('cluster_state:ok'), `cluster state on ${port}`);
    }
    return { nodes, ports, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
