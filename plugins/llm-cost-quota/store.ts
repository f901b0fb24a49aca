/**
 * Budget counters: reserve (access) and settle (log), in Redis (one Lua call per scope,
 * all-or-nothing) or in process memory (the fault-tolerant fallback, same rules).
 *
 * A reservation record lives under `<base>req:<request id>`: a hash whose field is
 * `<amount>|<counter keys>` and whose value counts reservations with that amount under that
 * request id (ids can repeat: a client may send the same x-request-id twice). The log phase
 * recomputes the amount from the same ctx key and settles one matching reservation against the
 * counters it was taken from — also when the period has rolled over since.
 */
import type { RedisClient } from '../core/redis/client';
import { RedisScript } from '../core/redis/script';
import { reservationKey, type BudgetName, type BudgetScope } from './budgets';

export interface Crossing {
  name: BudgetName;
  period_id: string;
  pct: number;
  spent_nano: number;
  cap_nano: number;
  /** `spend`: settled spend reached the level; `denied`: the cap refused a request. */
  trigger: 'spend' | 'denied';
}

export interface ReserveInput {
  scope: BudgetScope;
  request_id: string;
  cost_nano: number;
  /** Count the spend even over a cap (shadow mode); the would-be denial is still reported. */
  shadow: boolean;
  record_ttl_sec: number;
}

export interface ReserveResult {
  admitted: boolean;
  /** Index (in scope.counters) of the first budget that refused or would refuse; -1 = none. */
  denied_index: number;
  /** Spend (incl. reservations) per counter after the call (before it, when refused). */
  spent: number[];
  crossings: Crossing[];
}

export interface SettleInput {
  base: string;
  request_id: string;
  reserved_nano: number;
  actual_nano: number;
}

export interface SettleResult {
  /** A matching reservation was found and settled. */
  found: boolean;
  crossings: Crossing[];
}

export interface CostStore {
  reserve(i: ReserveInput): Promise<ReserveResult>;
  settle(i: SettleInput): Promise<SettleResult>;
}

const recordField = (cost: number, keys: string[]) => `${cost}|${keys.join('\n')}`;
const levelSpec = (t: Array<[number, number]>) => t.map(([p, l]) => `${p}:${l}`).join(',');

// ─── Redis ───────────────────────────────────────────────────────────────────────────────

export const RESERVE_LUA = `
local cost = tonumber(ARGV[1])
local shadow = ARGV[2] == '1'
local ttl = tonumber(ARGV[3])
local field = ARGV[4]
local n = #KEYS - 1
local spent = {}
local deny = 0
for i = 1, n do
  local o = 4 + (i - 1) * 5
  local s = tonumber(redis.call('HGET', KEYS[i + 1], 's') or '0')
  spent[i] = s
  if deny == 0 and s + cost > tonumber(ARGV[o + 1]) then deny = i end
end
local crossings = {}
if deny > 0 then
  local o = 4 + (deny - 1) * 5
  local k = KEYS[deny + 1]
  if string.find(',' .. ARGV[o + 5], ',100:', 1, true) and redis.call('HSETNX', k, 't100', '1') == 1 then
    redis.call('HSET', k, 'cap', ARGV[o + 1], 'b', ARGV[o + 3], 'p', ARGV[o + 4], 'lv', ARGV[o + 5])
    redis.call('EXPIREAT', k, ARGV[o + 2])
    crossings[1] = {deny, 100, spent[deny]}
  end
  if not shadow then return {0, deny, spent, crossings} end
end
for i = 1, n do
  local o = 4 + (i - 1) * 5
  local k = KEYS[i + 1]
  spent[i] = redis.call('HINCRBY', k, 's', cost)
  redis.call('HSET', k, 'cap', ARGV[o + 1], 'b', ARGV[o + 3], 'p', ARGV[o + 4], 'lv', ARGV[o + 5])
  redis.call('EXPIREAT', k, ARGV[o + 2])
end
redis.call('HINCRBY', KEYS[1], field, 1)
redis.call('EXPIRE', KEYS[1], ttl)
return {1, deny, spent, crossings}
`;

// The counter keys are read from the reservation record: they share its hash tag (same slot).
export const SETTLE_LUA = `
local reserved = ARGV[1]
local actual = tonumber(ARGV[2])
local head = reserved .. '|'
local all = redis.call('HGETALL', KEYS[1])
local field = nil
for i = 1, #all, 2 do
  if string.sub(all[i], 1, #head) == head then field = all[i]; break end
end
if not field then return {0, {}} end
if redis.call('HINCRBY', KEYS[1], field, -1) <= 0 then redis.call('HDEL', KEYS[1], field) end
local delta = actual - tonumber(reserved)
local crossings = {}
for k in string.gmatch(string.sub(field, #head + 1), '[^\\n]+') do
  if redis.call('EXISTS', k) == 1 then
    local s = redis.call('HINCRBY', k, 's', delta)
    if s < 0 then redis.call('HSET', k, 's', '0') end
    local c = redis.call('HINCRBY', k, 'c', actual)
    local lv = redis.call('HGET', k, 'lv')
    if actual > 0 and lv then
      for pct, level in string.gmatch(lv, '(%d+):(%d+)') do
        if c >= tonumber(level) and redis.call('HSETNX', k, 't' .. pct, '1') == 1 then
          crossings[#crossings + 1] = {redis.call('HGET', k, 'b'), redis.call('HGET', k, 'p'), tonumber(pct), c, tonumber(redis.call('HGET', k, 'cap'))}
        end
      end
    end
  end
end
return {1, crossings}
`;

const reserveScript = new RedisScript('llm-cost-quota:reserve', RESERVE_LUA);
const settleScript = new RedisScript('llm-cost-quota:settle', SETTLE_LUA);

export class RedisCostStore implements CostStore {
  constructor(private readonly redis: RedisClient) {}

  async reserve(i: ReserveInput): Promise<ReserveResult> {
    const c = i.scope.counters;
    const keys = [reservationKey(i.scope.base, i.request_id), ...c.map((x) => x.key)];
    const args: Array<string | number> = [i.cost_nano, i.shadow ? '1' : '0', i.record_ttl_sec, recordField(i.cost_nano, c.map((x) => x.key))];
    for (const x of c) args.push(x.cap_nano, x.expire_at_sec, x.name, x.period_id, levelSpec(x.thresholds));
    const r = (await reserveScript.run(this.redis, keys, args)) as [number, number, number[], Array<[number, number, number]>];
    const crossings: Crossing[] = (r[3] ?? []).map(([idx, pct, spent]) => {
      const b = c[idx - 1]!;
      return { name: b.name, period_id: b.period_id, pct, spent_nano: Number(spent), cap_nano: b.cap_nano, trigger: 'denied' };
    });
    return { admitted: r[0] === 1, denied_index: r[1] - 1, spent: (r[2] ?? []).map(Number), crossings };
  }

  async settle(i: SettleInput): Promise<SettleResult> {
    const r = (await settleScript.run(this.redis, [reservationKey(i.base, i.request_id)], [i.reserved_nano, i.actual_nano])) as [number, Array<[string, string, number, number, number]>];
    return {
      found: r[0] === 1,
      crossings: (r[1] ?? []).map(([name, period, pct, spent, cap]) => ({ name: name as BudgetName, period_id: period, pct: Number(pct), spent_nano: Number(spent), cap_nano: Number(cap), trigger: 'spend' })),
    };
  }
}

// ─── In-memory (fallback) ────────────────────────────────────────────────────────────────

interface LocalCounter {
  s: number;
  c: number;
  cap: number;
  b: BudgetName;
  p: string;
  thresholds: Array<[number, number]>;
  announced: Set<number>;
  expire_at_ms: number;
}

interface LocalRecord {
  fields: Map<string, number>;
  expire_at_ms: number;
}

/**
 * Same rules as the scripts, on this process only (a node's share of the budget is not
 * coordinated with other nodes while Redis is down). Expired entries are swept as it goes.
 */
export class LocalCostStore implements CostStore {
  private readonly counters = new Map<string, LocalCounter>();
  private readonly records = new Map<string, LocalRecord>();
  private ops = 0;

  constructor(private readonly now: () => number = Date.now) {}

  private counter(key: string): LocalCounter | undefined {
    const c = this.counters.get(key);
    if (c && c.expire_at_ms <= this.now()) {
      this.counters.delete(key);
      return undefined;
    }
    return c;
  }

  private sweep(): void {
    if (++this.ops % 1000 !== 0) return;
    const t = this.now();
    for (const [k, v] of this.counters) if (v.expire_at_ms <= t) this.counters.delete(k);
    for (const [k, v] of this.records) if (v.expire_at_ms <= t) this.records.delete(k);
  }

  async reserve(i: ReserveInput): Promise<ReserveResult> {
    this.sweep();
    const cs = i.scope.counters;
    const spent = cs.map((x) => this.counter(x.key)?.s ?? 0);
    const deny = cs.findIndex((x, idx) => spent[idx]! + i.cost_nano > x.cap_nano);
    const crossings: Crossing[] = [];
    const upsert = (idx: number): LocalCounter => {
      const x = cs[idx]!;
      let c = this.counter(x.key);
      if (!c) {
        c = { s: 0, c: 0, cap: x.cap_nano, b: x.name, p: x.period_id, thresholds: x.thresholds, announced: new Set(), expire_at_ms: x.expire_at_sec * 1000 };
        this.counters.set(x.key, c);
      }
      Object.assign(c, { cap: x.cap_nano, b: x.name, p: x.period_id, thresholds: x.thresholds, expire_at_ms: x.expire_at_sec * 1000 });
      return c;
    };
    if (deny >= 0) {
      const x = cs[deny]!;
      if (x.thresholds.some(([p]) => p === 100)) {
        const c = upsert(deny);
        if (!c.announced.has(100)) {
          c.announced.add(100);
          crossings.push({ name: x.name, period_id: x.period_id, pct: 100, spent_nano: spent[deny]!, cap_nano: x.cap_nano, trigger: 'denied' });
        }
      }
      if (!i.shadow) return { admitted: false, denied_index: deny, spent, crossings };
    }
    cs.forEach((_, idx) => {
      const c = upsert(idx);
      c.s += i.cost_nano;
      spent[idx] = c.s;
    });
    const rk = reservationKey(i.scope.base, i.request_id);
    let rec = this.records.get(rk);
    if (!rec || rec.expire_at_ms <= this.now()) {
      rec = { fields: new Map(), expire_at_ms: 0 };
      this.records.set(rk, rec);
    }
    const field = recordField(i.cost_nano, cs.map((x) => x.key));
    rec.fields.set(field, (rec.fields.get(field) ?? 0) + 1);
    rec.expire_at_ms = this.now() + i.record_ttl_sec * 1000;
    return { admitted: true, denied_index: deny, spent, crossings };
  }

  async settle(i: SettleInput): Promise<SettleResult> {
    const rk = reservationKey(i.base, i.request_id);
    const rec = this.records.get(rk);
    if (!rec || rec.expire_at_ms <= this.now()) return { found: false, crossings: [] };
    const head = `${i.reserved_nano}|`;
    const field = [...rec.fields.keys()].find((f) => f.startsWith(head));
    if (field === undefined) return { found: false, crossings: [] };
    const left = (rec.fields.get(field) ?? 1) - 1;
    if (left <= 0) rec.fields.delete(field);
    else rec.fields.set(field, left);
    if (rec.fields.size === 0) this.records.delete(rk);
    const delta = i.actual_nano - i.reserved_nano;
    const crossings: Crossing[] = [];
    for (const k of field.slice(head.length).split('\n')) {
      const c = this.counter(k);
      if (!c) continue;
      c.s = Math.max(0, c.s + delta);
      c.c += i.actual_nano;
      if (i.actual_nano <= 0) continue;
      for (const [pct, level] of c.thresholds) {
        if (c.c >= level && !c.announced.has(pct)) {
          c.announced.add(pct);
          crossings.push({ name: c.b, period_id: c.p, pct, spent_nano: c.c, cap_nano: c.cap, trigger: 'spend' });
        }
      }
    }
    return { found: true, crossings };
  }

  /**
   * Remember the spend Redis reported for a counter, so that a switch to this store continues
   * from the last known spend instead of from zero (other nodes' spend during the outage and
   * reservations whose replies were lost are still unknown: see the docs on fault_tolerant).
   */
  observe(x: BudgetScope['counters'][number], spent: number): void {
    let c = this.counter(x.key);
    if (!c) {
      c = { s: 0, c: 0, cap: x.cap_nano, b: x.name, p: x.period_id, thresholds: x.thresholds, announced: new Set(), expire_at_ms: x.expire_at_sec * 1000 };
      this.counters.set(x.key, c);
    }
    if (spent > c.s) c.s = spent;
  }

  /** Counter state (tests). */
  peek(key: string): { s: number; c: number } | undefined {
    const c = this.counter(key);
    return c ? { s: c.s, c: c.c } : undefined;
  }
}
