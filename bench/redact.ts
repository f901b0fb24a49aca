/**
 * bench/redact: detection quality and speed of plugins/core/text + llm-output-redact.
 *
 *  1. Precision / recall per entity on the labelled corpus (test/data/pii/corpus.jsonl — the set
 *     the detectors were tuned on), on a held-out corpus from the same generator with another
 *     seed (same templates, fresh values: it tests values, not phrasing), and on hand-written
 *     LLM-style answers (test/data/pii/handwritten.jsonl: other phrasing, other formats).
 *  2. Side by side with redact-pii (SyncRedactor at its defaults, no cloud calls): recall per
 *     shared entity measured the same way for both ("the labelled value is gone from the output"),
 *     and how many entity-free documents each one alters.
 *  3. MB/s on 1 KB, 64 KB and 1 MB texts: plain prose (ASCII, no entities), prose with
 *     typographic punctuation, and the corpus mix; ours and the peer on the same texts.
 *  4. Added latency of a 4 KB completion through the Kong-protocol host with the mock LLM
 *     (route with llm-output-redact vs the same route without), JSON and SSE.
 *
 * `npx tsx bench/redact.ts` (needs `node scripts/build.mjs llm-output-redact` for part 4;
 * BENCH_REDACT_HOST=0 skips it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SyncRedactor } from 'redact-pii';
import type { Entity } from '../plugins/core/text/detect';
import { redact, type RedactPolicy } from '../plugins/core/text/redact';
import { buildCorpus, type LabelledDoc } from '../test/data/pii/generate';
import { loadCorpus, loadHandwritten, score } from '../test/data/pii/evaluate';
import { benchLine, stats } from './lib';

const ALL: RedactPolicy = {
  entities: { email: 'redact', phone: 'redact', credit_card: 'redact', iban: 'redact', us_ssn: 'redact', ip_address: 'redact', jwt: 'redact', private_key: 'redact', api_key: 'redact', secret: 'redact' },
  replacement: 'placeholder',
};

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const lpad = (s: string | number, n: number) => String(s).padStart(n);

// ── 1. precision / recall ─────────────────────────────────────────────────────────────────────
function qualityTable(title: string, docs: LabelledDoc[]): Record<string, { p: number; r: number }> {
  const { perEntity } = score(docs);
  console.log(`\n${title} (${docs.length} documents)`);
  console.log(`${pad('entity', 13)}${lpad('labels', 7)}${lpad('tp', 6)}${lpad('fp', 5)}${lpad('fn', 5)}${lpad('precision', 11)}${lpad('recall', 8)}`);
  const out: Record<string, { p: number; r: number }> = {};
  let tp = 0, fp = 0, fn = 0;
  for (const s of perEntity) {
    console.log(`${pad(s.entity, 13)}${lpad(s.tp + s.fn, 7)}${lpad(s.tp, 6)}${lpad(s.fp, 5)}${lpad(s.fn, 5)}${lpad(s.precision.toFixed(3), 11)}${lpad(s.recall.toFixed(3), 8)}`);
    out[s.entity] = { p: +s.precision.toFixed(4), r: +s.recall.toFixed(4) };
    tp += s.tp;
    fp += s.fp;
    fn += s.fn;
  }
  console.log(`${pad('all', 13)}${lpad(tp + fn, 7)}${lpad(tp, 6)}${lpad(fp, 5)}${lpad(fn, 5)}${lpad((tp / (tp + fp)).toFixed(3), 11)}${lpad((tp / (tp + fn)).toFixed(3), 8)}`);
  return out;
}

const tuning = loadCorpus();
const heldOut = buildCorpus(97, 2000);
const qTuning = qualityTable('Detection on the tuning corpus (test/data/pii/corpus.jsonl)', tuning);
const qHeld = qualityTable('Detection on a held-out corpus (same generator, seed 97)', heldOut);
const handwritten = loadHandwritten();
const qHand = qualityTable('Detection on hand-written LLM-style answers (test/data/pii/handwritten.jsonl)', handwritten);
for (const m of score(handwritten).misses) console.log(`  ${m.kind} ${m.entity}: ${JSON.stringify(m.text)}`);

// ── 2. side by side with redact-pii ───────────────────────────────────────────────────────────
const peer = new SyncRedactor();
const SHARED: Entity[] = ['email', 'phone', 'credit_card', 'us_ssn', 'ip_address'];
function valueGoneRecall(docs: LabelledDoc[], fn: (t: string) => string): { perEntity: Record<string, number>; alteredClean: number; cleanDocs: number } {
  const hit: Record<string, [number, number]> = {};
  let alteredClean = 0;
  let cleanDocs = 0;
  for (const d of docs) {
    const out = fn(d.text);
    if (d.labels.length === 0) {
      cleanDocs++;
      if (out !== d.text) alteredClean++;
    }
    for (const l of d.labels) {
      if (!SHARED.includes(l.entity)) continue;
      const v = d.text.slice(l.start, l.end);
      const h = (hit[l.entity] ??= [0, 0]);
      h[1]++;
      if (!out.includes(v)) h[0]++;
    }
  }
  return { perEntity: Object.fromEntries(Object.entries(hit).map(([k, [a, b]]) => [k, a / b])), alteredClean, cleanDocs };
}
const oursR = valueGoneRecall(heldOut, (t) => redact(t, ALL).text);
const peerR = valueGoneRecall(heldOut, (t) => peer.redact(t));
console.log('\nSide by side with redact-pii 3.4.0 (SyncRedactor defaults), held-out corpus');
console.log('recall = the labelled value no longer appears in the output');
console.log(`${pad('entity', 13)}${lpad('ours', 8)}${lpad('redact-pii', 12)}`);
for (const e of SHARED) console.log(`${pad(e, 13)}${lpad((oursR.perEntity[e] ?? 0).toFixed(3), 8)}${lpad((peerR.perEntity[e] ?? 0).toFixed(3), 12)}`);
console.log(`${pad('entity-free documents altered', 30)} ours ${oursR.alteredClean}/${oursR.cleanDocs}, redact-pii ${peerR.alteredClean}/${peerR.cleanDocs} (it also redacts names, addresses, zip codes, numbers)`);

// ── 3. throughput ─────────────────────────────────────────────────────────────────────────────
const PLAIN =
  'The quarterly report shows revenue grew twelve percent in the third quarter, driven by new customers in Europe and Asia. ' +
  'Our team shipped the new scheduler on Tuesday; the rollout went smoothly and latency dropped by a third. ' +
  'Next steps: review the incident notes, plan the offsite for thirty people, and update the roadmap for 2025. ';
const TYPOGRAPHIC = PLAIN.replace(/; /g, ' — ').replace(/the new scheduler/g, '“the new scheduler”').replace(/Our team/g, 'Our team’s lead');
const MIX = tuning.map((d) => d.text).join('\n\n');

function sized(src: string, size: number): string {
  let s = src;
  while (s.length < size) s += src;
  return s.slice(0, size);
}

/** MB/s by CPU time of this process (the machine is shared: wall-clock numbers swing with load). */
function mbps(fn: (t: string) => unknown, text: string, minMs = 400): number {
  for (let i = 0; i < 3; i++) fn(text);
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  do {
    fn(text);
    n++;
  } while (performance.now() - t0 < minMs);
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  return (Buffer.byteLength(text) * n) / 1e6 / (cpuMs / 1000);
}

console.log('\nThroughput (MB/s of UTF-8 input per CPU second; redact() with every entity on)');
console.log(`${pad('text', 14)}${lpad('size', 8)}${lpad('ours', 10)}${lpad('redact-pii', 12)}`);
const throughput: Record<string, { ours: number; peer: number }> = {};
for (const [name, src] of [['plain', PLAIN], ['typographic', TYPOGRAPHIC], ['corpus mix', MIX]] as const) {
  for (const [label, size] of [['1 KB', 1024], ['64 KB', 65536], ['1 MB', 1 << 20]] as const) {
    const text = sized(src, size);
    const ours = mbps((t) => redact(t, ALL), text);
    const p = mbps((t) => peer.redact(t), text, size >= 1 << 20 ? 1 : 400);
    throughput[`${name} ${label}`] = { ours: +ours.toFixed(1), peer: +p.toFixed(2) };
    console.log(`${pad(name, 14)}${lpad(label, 8)}${lpad(ours.toFixed(1), 10)}${lpad(p.toFixed(2), 12)}`);
  }
}

// ── 4. through the host ───────────────────────────────────────────────────────────────────────
async function hostLatency(): Promise<Record<string, unknown> | undefined> {
  if (process.env.BENCH_REDACT_HOST === '0') return undefined;
  if (!existsSync(join(__dirname, '../dist/kong-plugins/llm-output-redact/llm-output-redact.cjs'))) {
    console.log('\n(host latency skipped: run `node scripts/build.mjs llm-output-redact` first)');
    return undefined;
  }
  const { startKongHost } = await import('../test/harness/kong-host');
  const { startMockLlm } = await import('../test/harness/mock-llm');
  const llm = await startMockLlm();
  const content = sized(`${PLAIN}Contact jane.doe@example.com or +1 (415) 555-2671 about card 4111 1111 1111 1111. `, 4096);
  llm.setDefault({ content, chunkSize: 16 });
  const host = await startKongHost({
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'llm',
          url: `${llm.url}/v1`,
          routes: [
            { name: 'plain', paths: ['/plain'] },
            { name: 'redact', paths: ['/redact'], plugins: [{ name: 'llm-output-redact' }] },
          ],
        },
      ],
    },
  });
  const N = Number(process.env.BENCH_REQUESTS ?? 300);
  const body = (stream: boolean) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream });
  const once = async (route: string, stream: boolean) => {
    const t = process.hrtime.bigint();
    const r = await fetch(`${host.proxyUrl}/${route}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(stream) });
    await r.text();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const out: Record<string, unknown> = {};
  console.log(`\nAdded latency for a 4 KB completion through the host (${N} sequential requests each, p50 / p99 ms)`);
  console.log(`${pad('format', 8)}${lpad('no plugin', 20)}${lpad('llm-output-redact', 20)}${lpad('added p50', 11)}`);
  for (const stream of [false, true]) {
    for (let i = 0; i < 30; i++) {
      await once('plain', stream);
      await once('redact', stream);
    }
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < N; i++) {
      a.push(await once('plain', stream));
      b.push(await once('redact', stream));
    }
    const sa = stats(a), sb = stats(b);
    const fmt = (s: ReturnType<typeof stats>) => `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)}`;
    console.log(`${pad(stream ? 'SSE' : 'JSON', 8)}${lpad(fmt(sa), 20)}${lpad(fmt(sb), 20)}${lpad((sb.p50 - sa.p50).toFixed(2), 11)}`);
    out[stream ? 'sse' : 'json'] = { base_p50_ms: +sa.p50.toFixed(3), redact_p50_ms: +sb.p50.toFixed(3), added_p50_ms: +(sb.p50 - sa.p50).toFixed(3), redact_p99_ms: +sb.p99.toFixed(3) };
  }
  const calls = host.traces.at(-1)?.pdkCalls.filter((c) => c.plugin === 'llm-output-redact').length;
  console.log(`PDK calls of llm-output-redact per redacted SSE response: ${calls}`);
  out.pdk_calls = calls;
  await host.stop();
  await llm.stop();
  return out;
}

void (async () => {
  const host = await hostLatency();
  benchLine('redact', {
    quality_tuning: qTuning,
    quality_held_out: qHeld,
    quality_handwritten: qHand,
    peer: 'redact-pii@3.4.0',
    recall_vs_peer: Object.fromEntries(SHARED.map((e) => [e, { ours: +(oursR.perEntity[e] ?? 0).toFixed(4), peer: +(peerR.perEntity[e] ?? 0).toFixed(4) }])),
    clean_docs_altered: { ours: oursR.alteredClean, peer: peerR.alteredClean, of: oursR.cleanDocs },
    mb_per_s: throughput,
    host,
  });
  process.exit(0);
})();
