/**
 * What the Kong-protocol host adds per request, and what one PDK round trip costs: p50/p99 of
 * a direct call to the mock upstream, through the host with no plugins, and with one fixture
 * plugin making N PDK calls. PDK cost = slope of latency over N.
 */
import { startMockLlm } from '../test/harness/mock-llm';
import { startKongHost } from '../test/harness/kong-host';
import { benchLine, fmt, load, stats } from './lib';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 400);
const N_CALLS = [0, 10, 50];

async function main(): Promise<void> {
  const llm = await startMockLlm();
  const routes = [{ name: 'none', paths: ['/none'] }, ...N_CALLS.map((n) => ({ name: `pdk-${n}`, paths: [`/pdk-${n}`], plugins: [{ name: 'fixture-pdk', config: { calls: n } }] }))];
  const host = await startKongHost({ config: { _format_version: '3.0', services: [{ name: 'llm', url: llm.url, routes }] } });
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const call = (base: string) => async () => {
    const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await r.arrayBuffer();
  };
  const measure = async (base: string) => {
    await load(50, 4, call(base)); // warm up connections and plugin instances
    return stats(await load(REQUESTS, 1, call(base)));
  };
  const direct = await measure(llm.url);
  const none = await measure(`${host.proxyUrl}/none`);
  const withPdk: Record<number, ReturnType<typeof stats>> = {};
  for (const n of N_CALLS) withPdk[n] = await measure(`${host.proxyUrl}/pdk-${n}`);
  const perCallMs = (withPdk[50]!.p50 - withPdk[0]!.p50) / 50;

  console.log('\nKong-protocol host latency (sequential requests, ms)');
  console.log(`  direct to mock upstream       p50 ${fmt(direct.p50)}  p99 ${fmt(direct.p99)}`);
  console.log(`  host, no plugins              p50 ${fmt(none.p50)}  p99 ${fmt(none.p99)}  (added p50 ${fmt(none.p50 - direct.p50)})`);
  for (const n of N_CALLS) console.log(`  host, 1 plugin, ${String(n).padStart(2)} PDK calls  p50 ${fmt(withPdk[n]!.p50)}  p99 ${fmt(withPdk[n]!.p99)}`);
  console.log(`  one PDK round trip ≈ ${fmt(perCallMs)} (slope between 0 and 50 calls)`);
  benchLine('harness', {
    requests: REQUESTS,
    direct_p50_ms: direct.p50,
    host_no_plugins_p50_ms: none.p50,
    host_no_plugins_p99_ms: none.p99,
    host_added_p50_ms: none.p50 - direct.p50,
    plugin_pdk: Object.fromEntries(N_CALLS.map((n) => [n, { p50_ms: withPdk[n]!.p50, p99_ms: withPdk[n]!.p99 }])),
    pdk_round_trip_ms: perCallMs,
  });
  await host.stop();
  await llm.stop();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
