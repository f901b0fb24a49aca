/**
 * The plugin-server side of the host: spawns one real `kong-js-pluginserver` per plugin (as
 * Kong 3.9 does: one server entry per plugin), talks MessagePack-RPC over its unix socket with
 * Kong's discipline — one message per write, one pooled connection per call, calls of one event
 * strictly sequential — and keeps one instance per plugin entity, restarted on "no plugin instance".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { KongFieldEntry } from '../../../plugins/core/schema';

const encoder = new Encoder();

export class RpcError extends Error {
  override name = 'RpcError';
}

/** A pool of idle connections to one socket, like ngx.socket keepalive. */
class RpcPool {
  private idle: Socket[] = [];
  private msgId = 0;
  constructor(readonly socketPath: string) {}

  private open(): Promise<Socket> {
    return new Promise((resolvePromise, reject) => {
      const s = connect(this.socketPath);
      s.once('connect', () => {
        s.removeAllListeners('error');
        s.on('error', () => s.destroy());
        resolvePromise(s);
      });
      s.once('error', (e) => reject(new RpcError(`trying to connect: ${e.message}`)));
    });
  }

  async call(method: string, ...args: unknown[]): Promise<unknown> {
    let sock = this.idle.pop();
    while (sock && (sock.destroyed || !sock.writable)) sock = this.idle.pop();
    if (!sock) sock = await this.open();
    const id = ++this.msgId;
    const s = sock;
    return new Promise((resolvePromise, reject) => {
      const chunks: Buffer[] = [];
      const cleanup = () => {
        s.removeListener('data', onData);
        s.removeListener('close', onClose);
      };
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        let msg: unknown;
        try {
          msg = new Decoder().decode(Buffer.concat(chunks));
        } catch (e) {
          if (e instanceof RangeError || /insufficient/i.test(String((e as Error).message))) return;
          cleanup();
          s.destroy();
          reject(new RpcError('malformed reply'));
          return;
        }
        cleanup();
        const [type, msgid, err, result] = msg as [number, number, unknown, unknown];
        if (type !== 1 || msgid !== id) {
          s.destroy();
          reject(new RpcError('unexpected RPC response'));
          return;
        }
        this.idle.push(s);
        if (err !== null && err !== undefined) reject(new RpcError(String(err)));
        else resolvePromise(result);
      };
      const onClose = () => {
        cleanup();
        reject(new RpcError('no data'));
      };
      s.on('data', onData);
      s.once('close', onClose);
      // One message per write: the JS server decodes each read as exactly one message.
      s.write(encoder.encode([0, id, method, args]));
    });
  }

  close(): void {
    for (const s of this.idle) s.destroy();
    this.idle = [];
  }
}

export interface PluginInfo {
  Name: string;
  Version?: string;
  Phases: string[];
  Priority: number;
  Schema: { name: string; fields: Array<{ config: { type: 'record'; fields: KongFieldEntry[] } }> };
}

const KONG_PDK_BIN = resolve(__dirname, '../../../node_modules/kong-pdk/bin/kong-js-pluginserver');

/** One kong-js-pluginserver process serving one plugin. */
export class PluginServerProcess {
  readonly pool: RpcPool;
  readonly output: string[] = [];
  private child?: ChildProcess;
  dead = false;

  constructor(
    readonly name: string,
    readonly pluginDir: string,
    readonly prefix: string,
    readonly index: number,
    private readonly env: Record<string, string | undefined>,
    private readonly onLine: (line: string) => void,
  ) {
    this.pool = new RpcPool(join(prefix, this.sockName));
  }

  get sockName(): string {
    return `${this.name}.${this.index}.sock`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [KONG_PDK_BIN, '--plugins-directory', this.pluginDir, '--kong-prefix', this.prefix, '--sock-name', this.sockName], {
      env: this.env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const collect = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.output.push(line);
        if (this.output.length > 2000) this.output.shift();
        this.onLine(line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', () => {
      this.dead = true;
      this.pool.close();
    });
    const deadline = Date.now() + 45_000; // a loaded 2-core machine starts 5+ servers slowly
    for (;;) {
      if (this.dead) throw new Error(`plugin server for ${this.name} exited at start: ${this.output.slice(-5).join(' | ')}`);
      try {
        await this.pool.call('plugin.GetStatus');
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`plugin server for ${this.name} did not listen within 45 s`);
        await new Promise((r) => setTimeout(r, 40));
      }
    }
  }

  kill(): void {
    this.child?.kill('SIGKILL');
    this.dead = true;
    this.pool.close();
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child!.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    this.pool.close();
  }
}

/** Find `<dir>/<name>/<name>.cjs|.js` in the configured plugin directories. */
export function findPluginDirs(dirs: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const d = join(dir, name);
      if (existsSync(join(d, `${name}.cjs`)) || existsSync(join(d, `${name}.js`))) if (!out.has(name)) out.set(name, d);
    }
  }
  return out;
}
