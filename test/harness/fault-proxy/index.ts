/**
 * A TCP proxy in front of Redis or Postgres that tests switch between failure modes, so failure
 * drills never touch the machine's shared services.
 *
 *   const proxy = await startFaultProxy({ targetHost: '127.0.0.1', targetPort: 6379 });
 *   new Redis({ host: proxy.host, port: proxy.port });
 *   proxy.setMode('blackhole');   // 'pass' | 'delay' (opts.delayMs) | 'blackhole' | 'reset'
 *   await proxy.stop();
 *
 * Modes (they apply to existing AND new connections):
 * - pass:      bytes flow both ways.
 * - delay:     every chunk, both ways, is delivered `delayMs` (default 200) after it arrived,
 *              order preserved.
 * - blackhole: connections are accepted and kept, nothing is forwarded (a network partition).
 *              Bytes are held, not dropped: switching back to pass/delay delivers them in order,
 *              like TCP after a healed partition, so protocol streams never desynchronise.
 *              New connections are accepted; their upstream connection is opened only once the
 *              mode leaves blackhole.
 * - reset:     every existing connection is destroyed with a TCP RST (both sides); new
 *              connections are reset as soon as they are accepted.
 * Switching back to pass lets new connections work (recovery).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export type FaultMode = 'pass' | 'delay' | 'blackhole' | 'reset';

export interface FaultProxyOptions {
  targetHost: string;
  targetPort: number;
  /** 0 / absent = a free port. */
  listenPort?: number;
  /** Listen address (default 127.0.0.1). */
  listenHost?: string;
}

export interface FaultProxy {
  host: string;
  port: number;
  readonly mode: FaultMode;
  readonly delayMs: number;
  setMode(mode: FaultMode, opts?: { delayMs?: number }): void;
  /** Connections currently open (client side). */
  readonly connections: number;
  stop(): Promise<void>;
}

interface Lane {
  dst: net.Socket | null;
  pending: Array<{ buf: Buffer; due: number }>;
  ended: boolean;
  finished: boolean;
  timer: NodeJS.Timeout | null;
}

interface Conn {
  client: net.Socket;
  upstream: net.Socket | null;
  upConnected: boolean;
  toUp: Lane;
  toClient: Lane;
  closed: boolean;
}

function rst(s: net.Socket | null): void {
  if (!s || s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  let delayMs = 200;
  let stopped = false;
  const conns = new Set<Conn>();

  const newLane = (): Lane => ({ dst: null, pending: [], ended: false, finished: false, timer: null });

  const close = (c: Conn, reset: boolean): void => {
    if (c.closed) return;
    c.closed = true;
    conns.delete(c);
    for (const lane of [c.toUp, c.toClient]) if (lane.timer) clearTimeout(lane.timer);
    if (reset) {
      rst(c.client);
      rst(c.upstream);
    } else {
      c.client.destroy();
      c.upstream?.destroy();
    }
  };

  const pump = (c: Conn, lane: Lane): void => {
    if (c.closed || stopped) return;
    if (lane.timer) {
      clearTimeout(lane.timer);
      lane.timer = null;
    }
    if (mode === 'blackhole' || mode === 'reset' || !lane.dst || !c.upConnected) return;
    const now = Date.now();
    while (lane.pending.length > 0) {
      const head = lane.pending[0]!;
      if (head.due > now) {
        lane.timer = setTimeout(() => pump(c, lane), head.due - now);
        return;
      }
      lane.pending.shift();
      if (!lane.dst.destroyed) lane.dst.write(head.buf);
    }
    if (lane.ended && !lane.finished) {
      lane.finished = true;
      if (!lane.dst.destroyed) lane.dst.end();
    }
  };

  const connectUpstream = (c: Conn): void => {
    if (c.upstream || c.closed) return;
    const up = net.connect({ host: opts.targetHost, port: opts.targetPort });
    up.setNoDelay(true);
    c.upstream = up;
    c.toUp.dst = up;
    up.on('connect', () => {
      c.upConnected = true;
      pump(c, c.toUp);
      pump(c, c.toClient);
    });
    up.on('data', (buf: Buffer) => {
      c.toClient.pending.push({ buf, due: mode === 'delay' ? Date.now() + delayMs : 0 });
      pump(c, c.toClient);
    });
    up.on('end', () => {
      c.toClient.ended = true;
      pump(c, c.toClient);
    });
    // Upstream refused / reset: the client sees a reset too.
    up.on('error', () => close(c, true));
    up.on('close', () => {
      if (c.toClient.pending.length === 0 || c.toClient.finished) close(c, false);
    });
  };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (client) => {
    client.on('error', () => {
      /* handled by close */
    });
    if (mode === 'reset' || stopped) {
      rst(client);
      return;
    }
    client.setNoDelay(true);
    const c: Conn = { client, upstream: null, upConnected: false, toUp: newLane(), toClient: newLane(), closed: false };
    c.toClient.dst = client;
    conns.add(c);
    client.on('data', (buf: Buffer) => {
      c.toUp.pending.push({ buf, due: mode === 'delay' ? Date.now() + delayMs : 0 });
      pump(c, c.toUp);
    });
    client.on('end', () => {
      c.toUp.ended = true;
      pump(c, c.toUp);
    });
    client.on('error', () => close(c, true));
    client.on('close', () => close(c, false));
    if (mode !== 'blackhole') connectUpstream(c);
  });
  server.on('error', () => {
    /* listen errors surface through the listen promise */
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, opts.listenHost ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;

  return {
    host: opts.listenHost ?? '127.0.0.1',
    port: addr.port,
    get mode() {
      return mode;
    },
    get delayMs() {
      return delayMs;
    },
    get connections() {
      return conns.size;
    },
    setMode(next: FaultMode, o?: { delayMs?: number }) {
      mode = next;
      if (o?.delayMs !== undefined) delayMs = o.delayMs;
      if (next === 'reset') {
        for (const c of [...conns]) close(c, true);
        return;
      }
      if (next === 'blackhole') return;
      // pass / delay: connect held connections, release held bytes.
      for (const c of [...conns]) {
        connectUpstream(c);
        pump(c, c.toUp);
        pump(c, c.toClient);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of [...conns]) close(c, false);
      await closed;
    },
  };
}
