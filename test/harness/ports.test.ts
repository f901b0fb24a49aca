import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { freePort } from './ports';

describe('freePort', () => {
  it('returns a port one can listen on', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const srv = net.createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    await new Promise((r) => srv.close(r));
  });
});
