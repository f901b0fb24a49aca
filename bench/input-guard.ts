/**
 * llm-input-guard benchmark.
 *
 *   npx tsx bench/input-guard.ts            (build first for the host part: node scripts/build.mjs llm-input-guard fixture-identity)
 *
 * 1. Injection detection on the labelled set (test/data/injection): detection rate and false
 *    positive rate per split — `dev` (the rules were tuned on it), `holdout` (written before a
 *    tuning round, then used in it), `fresh` and `fresh2` (each written blind, then used in the
 *    next round), `fresh3` (written last, never tuned on except one false positive removed).
 * 2. The pure core per request (preflight + inspect): µs for a 4000-char and a 32 KB chat body,
 *    with the tokenizer's and the injection scorer's share.
 * 3. Through the Kong-protocol host: PDK calls in access and plugin time per request.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_RULES, scoreTexts } from '../plugins/llm-input-guard/injection';
import { guardWith, run } from '../plugins/llm-input-guard/testkit';
import { benchLine, stats } from './lib';

const DATA = join(__dirname, '../test/data/injection');
type Item = { id: string; category: string; text: string };
const load = (f: string): Item[] => readFileSync(join(DATA, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Item);
const blocked = (t: string) => scoreTexts([t], BUILTIN_RULES).score >= 1;
const pct = (a: number, b: number) => (b === 0 ? 0 : Math.round((1000 * a) / b) / 10);

// ---- 1. detection
const splits: Array<[string, string, string]> = [
  ['dev', 'attacks.jsonl', 'benign.jsonl'],
  ['holdout', 'holdout-attacks.jsonl', 'holdout-benign.jsonl'],
  ['fresh', 'fresh-attacks.jsonl', 'fresh-benign.jsonl'],
  ['fresh2', 'fresh2-attacks.jsonl', 'fresh2-benign.jsonl'],
  ['fresh3', 'fresh3-attacks.jsonl', 'fresh3-benign.jsonl'],
];
console.log('Injection detection (threshold 1.0)');
console.log('split     attacks  detected  rate    benign  false+  FPR');
let TA = 0;
let TD = 0;
let TB = 0;
let TF = 0;
const perSplit: Record<string, { detection_pct: number; fpr_pct: number }> = {};
for (const [name, a, b] of splits) {
  const attacks = load(a);
  const benign = load(b);
  const d = attacks.filter((x) => blocked(x.text)).length;
  const f = benign.filter((x) => blocked(x.text)).length;
  TA += attacks.length;
  TD += d;
  TB += benign.length;
  TF += f;
  perSplit[name] = { detection_pct: pct(d, attacks.length), fpr_pct: pct(f, benign.length) };
  console.log(`${name.padEnd(9)} ${String(attacks.length).padStart(7)} ${String(d).padStart(9)}  ${`${pct(d, attacks.length)}%`.padEnd(7)} ${String(benign.length).padStart(6)} ${String(f).padStart(7)}  ${pct(f, benign.length)}%`);
}
console.log(`${'total'.padEnd(9)} ${String(TA).padStart(7)} ${String(TD).padStart(9)}  ${`${pct(TD, TA)}%`.padEnd(7)} ${String(TB).padStart(6)} ${String(TF).padStart(7)}  ${pct(TF, TB)}%`);

const HOMO: Record<string, string> = { a: 'а', e: 'е', o: 'о', i: 'і', c: 'с', p: 'р' };
const variants: Record<string, (t: string) => string> = {
  homoglyphs: (t) => t.replace(/[aeoicp]/g, (c) => HOMO[c] as string),
  zero_width: (t) => [...t].map((c, i) => (i % 2 && /[a-z]/i.test(c) ? `\u200b${c}` : c)).join(''),
  full_width: (t) => t.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
  base64: (t) => Buffer.from(t).toString('base64'),
};
const plainBlocked = [...load('attacks.jsonl'), ...load('holdout-attacks.jsonl'), ...load('fresh-attacks.jsonl'), ...load('fresh2-attacks.jsonl'), ...load('fresh3-attacks.jsonl')].filter((x) => x.category !== 'encoded' && x.category !== 'obfuscated' && blocked(x.text));
const obf: Record<string, number> = {};
console.log(`\nObfuscated variants of the ${plainBlocked.length} plainly blocked attacks still blocked:`);
for (const [k, fn] of Object.entries(variants)) {
  obf[k] = pct(plainBlocked.filter((x) => blocked(fn(x.text))).length, plainBlocked.length);
  console.log(`  ${k.padEnd(11)} ${obf[k]}%`);
}

// ---- 2. core timing
function words(n: number, seed: number): string {
  const vocab = 'the a of to and in is for on with as by at from this that we you it be are was were have has our their about which when where how what could would should might report table value customer order system service data model request response error retry update account invoice shipment delivery schedule meeting project budget quarter review summary analysis design feature release bug test deploy database query index cache latency throughput memory network server client browser mobile user team manager engineer product market price cost revenue growth plan risk issue status'.split(' ');
  let x = seed;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out.push(vocab[x % vocab.length] as string);
    if (x % 17 === 0) out.push(`${(x % 997).toString()}.`);
  }
  return out.join(' ');
}
const clip = (s: string, n: number) => s.slice(0, n);
const body4k = { model: 'gpt-4o', messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: clip(words(1200, 7), 4000) }] };
const body32k = { model: 'gpt-4o', messages: [{ role: 'system', content: 'You are a helpful assistant.' }, ...Array.from({ length: 9 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: clip(words(1200, 100 + i), 3600) }))] };
const g = guardWith({ max_input_tokens: 100_000 });
const now = () => Number(process.hrtime.bigint());

function timeCore(body: unknown, n: number) {
  const raw = Buffer.from(JSON.stringify(body));
  for (let i = 0; i < 50; i++) run(g, raw);
  const total: number[] = [];
  const tokenTime = { ns: 0 };
  for (let i = 0; i < n; i++) {
    const t = now();
    const d = run(g, raw, { inspect: { tokenClock: now, tokenTime } });
    total.push((now() - t) / 1000);
    if (d.action !== 'pass') throw new Error(`bench body refused: ${d.reason}`);
  }
  const texts = (body as { messages: Array<{ role: string; content: string }> }).messages.filter((m) => m.role === 'user').map((m) => m.content);
  const sc: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    scoreTexts(texts, BUILTIN_RULES);
    sc.push((now() - t) / 1000);
  }
  const s = stats(total);
  const tokUs = tokenTime.ns / 1000 / n;
  const scoreUs = stats(sc).mean;
  return { bytes: raw.length, mean_us: Math.round(s.mean), p50_us: Math.round(s.p50), p99_us: Math.round(s.p99), tokenizer_us: Math.round(tokUs), tokenizer_share_pct: pct(tokUs, s.mean), injection_us: Math.round(scoreUs), injection_share_pct: pct(scoreUs, s.mean) };
}
const r4k = timeCore(body4k, 400);
const r32k = timeCore(body32k, 150);
console.log('\nPure core per request (preflight + inspect), µs');
console.log('body      bytes   mean   p50    p99    tokenizer (share)   injection scoring (share)');
for (const [name, r] of [['4000-char', r4k], ['32 KB', r32k]] as const) {
  console.log(`${name.padEnd(9)} ${String(r.bytes).padStart(6)} ${String(r.mean_us).padStart(6)} ${String(r.p50_us).padStart(5)} ${String(r.p99_us).padStart(6)}   ${`${r.tokenizer_us} (${r.tokenizer_share_pct}%)`.padEnd(19)} ${r.injection_us} (${r.injection_share_pct}%)`);
}

// ---- 3. through the host
async function hostPart(): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(join(__dirname, '../dist/kong-plugins/llm-input-guard/llm-input-guard.cjs')) || !existsSync(join(__dirname, '../dist/test-plugins/fixture-identity/fixture-identity.cjs'))) {
    console.log('\n(host part skipped: build llm-input-guard and fixture-identity first)');
    return undefined;
  }
  const { startKongHost } = await import('../test/harness/kong-host');
  const { startMockLlm } = await import('../test/harness/mock-llm');
  const llm = await startMockLlm();
  const identity = JSON.stringify({ v: 1, request_id: 'bench', tenant_id: 't', method: 'api_key', scopes: { models: ['*'], features: [] }, timezone: 'UTC', limits: {}, budgets: {}, input: { max_input_tokens: 100000 } });
  const idp = { name: 'fixture-identity', config: { identity } };
  const host = await startKongHost({
    config: {
      _format_version: '3.0',
      services: [
        {
          name: 'llm',
          url: `${llm.url}/v1`,
          routes: [
            { name: 'base', paths: ['/base'], plugins: [idp] },
            { name: 'auto', paths: ['/auto'], plugins: [idp, { name: 'llm-input-guard' }] },
            { name: 'fixed', paths: ['/fixed'], plugins: [idp, { name: 'llm-input-guard', config: { endpoint: 'chat' } }] },
          ],
        },
      ],
    },
  });
  const out: Record<string, unknown> = {};
  try {
    console.log('\nThrough the Kong host (plugin time = all access plugins; PDK calls = llm-input-guard access)');
    console.log('route                         body     n    plugin p50   plugin p99   PDK calls');
    const N = Number(process.env.BENCH_REQUESTS ?? 200);
    const cases: Array<[string, string, unknown]> = [
      ['identity only', '/base/chat/completions', body4k],
      ['guard auto (rewrite)', '/auto/chat/completions', body4k],
      ['guard auto (no rewrite)', '/auto/chat/completions', { ...body4k, max_tokens: 50 }],
      ['guard fixed (rewrite)', '/fixed/chat/completions', body4k],
      ['guard auto 32 KB', '/auto/chat/completions', body32k],
    ];
    for (const [label, path, body] of cases) {
      const raw = JSON.stringify(body);
      const start = host.traces.length;
      for (let i = 0; i < N; i++) {
        const res = await fetch(`${host.proxyUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${label}: status ${res.status}`);
      }
      const ts = host.traces.slice(start).filter((t) => t.path === path);
      const s = stats(ts.map((t) => t.pluginMs));
      const calls = ts.length ? ts[ts.length - 1]!.pdkCalls.filter((c) => c.plugin === 'llm-input-guard' && c.phase === 'access').length : 0;
      console.log(`${label.padEnd(29)} ${String(raw.length).padStart(6)} ${String(ts.length).padStart(5)}   ${s.p50.toFixed(3).padStart(7)} ms   ${s.p99.toFixed(3).padStart(7)} ms   ${calls}`);
      out[label.replace(/[^a-z0-9]+/gi, '_')] = { plugin_p50_ms: Math.round(s.p50 * 1000) / 1000, plugin_p99_ms: Math.round(s.p99 * 1000) / 1000, pdk_calls: calls };
    }
  } finally {
    await host.stop();
    await llm.stop();
  }
  return out;
}

void (async () => {
  const host = await hostPart();
  benchLine('input-guard', {
    detection_pct: pct(TD, TA),
    fpr_pct: pct(TF, TB),
    labelled_items: TA + TB,
    splits: perSplit,
    obfuscated_blocked_pct: obf,
    core_4k: r4k,
    core_32k: r32k,
    host,
  });
})();
