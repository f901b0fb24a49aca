/**
 * Prometheus metrics of the control plane: process metrics, admin API requests by route and
 * status, and the key-sync state. Global, so tenant-scoped tokens are refused; a `viewer`
 * token is enough for a scraper.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { actorOf } from '../auth/auth.hook';
import { assertGlobal } from '../auth/scope';

export interface MetricsSources {
  keySyncStatus(): string;
}

export function metricsRoutes(app: FastifyInstance, sources: MetricsSources): void {
  // One registry per app instance: tests build several apps in one process.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'llg_cp_' });
  const requests = new Counter({ name: 'llg_cp_http_requests_total', help: 'Admin API requests.', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'llg_cp_http_request_duration_seconds',
    help: 'Admin API request duration.',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: 'llg_cp_key_sync_ok',
    help: '1 when API-key records in Redis are in sync with Postgres, 0 when a resync is pending (disabled without Redis: 1).',
    registers: [registry],
    collect() {
      this.set(sources.keySyncStatus() === 'dirty' ? 0 : 1);
    },
  });

  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, never the raw URL: ids must not become label values.
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.get('/metrics', { config: { perm: 'read' }, schema: { summary: 'Prometheus metrics (text exposition format).' } }, async (req, reply) => {
    assertGlobal(actorOf(req));
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
