/**
 * The Redis side of ./engine.ts: one script decides every dimension of a request atomically
 * (checks all, debits all or nothing), one script settles it. Same arithmetic as the pure cores
 * in ./algorithms.ts, in the same order, on doubles (Lua 5.1 numbers are doubles).
 *
 * The cost of a script is its redis.call()s, its argument strings and its allocations, so:
 *  - KEYS[1] state hash of the scope: one field per dimension, its state packed as
 *    little-endian doubles with Redis's `struct` library (exact, and no number formatting or
 *    parsing in Lua):
 *      fw '<dd' window index, count · sw '<ddd' window index, current, previous ·
 *      tb '<dd' tokens, timestamp · gc '<d' TAT; absent or '' = no state (full bucket, past TAT).
 *    `_e` holds the hash's expiry ('<d', ms): PEXPIRE runs only when the hash must live longer
 *    than that (then with a minute of margin);
 *  - KEYS[2] concurrency sorted set (member = request id, score = slot expiry).
 *  Both carry the tenant's hash tag: one slot, so the script runs unchanged on a Cluster.
 *  - The reservation (decision time, reserved tokens) is not a Redis key: the decision returns
 *    its time and the plugin server keeps both until the log phase (./reservations.ts), which
 *    hands them to the settle script.
 * A decision is: TIME, HMGET, HSET, [PEXPIRE], [+3 for concurrency].
 *
 * Each dimension is 3 arguments: spec, limit, period_ms. The spec is the dimension's field in
 * the state hash and starts with its kind and algorithm: `<r|t|c><fw|sw|tb|gc|cc>:<name>`,
 * e.g. `rsw:rpm:sw` (the script reads them as bytes, no string work).
 *
 * DECIDE ARGV: now_override ('' = Redis TIME), request_id, tokens, then the dimensions.
 * DECIDE returns: {status (1 allowed, 0 denied), fail_index (1-based, 0 = none), retry_ms,
 *   now, remaining_1, reset_1, ..., remaining_n, reset_n}.
 *
 * SETTLE ARGV: now_override, request_id, mode (refund|actual|keep|rollback), actual_tokens,
 *   reserved_at (the decision's time), reserved_tokens, then the dimensions. Returns 1.
 */

/** Values per dimension in ARGV. */
export const DIM_ARGS = 3;

export const DECIDE_LUA = `
local tonumber, floor, ceil, byte, pack, unpack_s = tonumber, math.floor, math.ceil, string.byte, struct.pack, struct.unpack
-- kind and algorithm bytes of a dimension spec
local TOKENS, FW, SW, TB, GC, CC = 116, 102, 115, 116, 103, 99
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end
local tokens = tonumber(ARGV[3])
local n = (#ARGV - 3) / 3
local out = {1, 0, 0, now}
local fields = {}
for i = 1, n do fields[i] = ARGV[i * 3 + 1] end
fields[n + 1] = '_e'
local v = redis.call('HMGET', KEYS[1], unpack(fields))
local sets, ns, keep = {}, 0, 0
local okc = {}
local fail, retry, slot = 0, 0, nil
for i = 1, n do
  local o = i * 3 + 1
  local f = ARGV[o]
  local kind, alg = byte(f, 1, 2)
  local l, p = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2])
  local s = v[i]
  if s == '' then s = false end
  local cost = 1
  if kind == TOKENS then cost = tokens end
  local sl = p
  if sl > 60000 then sl = 60000 end
  local ok, remaining, reset, rtry
  if alg == SW then
    local idx = floor(now / p)
    local curr, prev = 0, 0
    if s then
      local sidx, c0, p0 = unpack_s('<ddd', s)
      if sidx == idx then curr, prev = c0, p0 elseif sidx == idx - 1 then prev = c0 end
    end
    local start = idx * p
    local elapsed = now - start
    local est = (prev * (p - elapsed)) / p + curr
    local ttl = ceil(start + 2 * p - now) + sl
    if ttl > keep then keep = ttl end
    if est + cost <= l then
      local x = l - est - cost
      if x < 0 then x = 0 end
      ok, remaining, rtry = true, floor(x), 0
      if cost > 0 or curr > 0 then reset = ceil(p - elapsed + p)
      elseif prev > 0 then reset = ceil(p - elapsed)
      else reset = 0 end
      if cost ~= 0 then sets[ns + 1] = f; sets[ns + 2] = pack('<ddd', idx, curr + cost, prev); ns = ns + 2 end
    else
      local x = l - est
      if x < 0 then x = 0 end
      ok, remaining = false, floor(x)
      local need = l - cost
      if need < 0 then rtry = p
      elseif curr <= need then rtry = ceil(p - ((need - curr) * p) / prev - elapsed)
      else rtry = ceil(p - elapsed + (p - (need * p) / curr)) end
      if rtry < 1 then rtry = 1 end
      if curr > 0 then reset = ceil(p - elapsed + p) else reset = ceil(p - elapsed) end
    end
  elseif alg == FW then
    local idx = floor(now / p)
    local count = 0
    if s then
      local sidx, c0 = unpack_s('<dd', s)
      if sidx == idx then count = c0 end
    end
    local ttl = ceil((idx + 1) * p - now)
    reset = ttl
    if ttl + sl > keep then keep = ttl + sl end
    if count + cost <= l then
      local x = l - count - cost
      if x < 0 then x = 0 end
      ok, remaining, rtry = true, floor(x), 0
      if cost ~= 0 then sets[ns + 1] = f; sets[ns + 2] = pack('<dd', idx, count + cost); ns = ns + 2 end
    else
      local x = l - count
      if x < 0 then x = 0 end
      ok, remaining = false, floor(x)
      if cost > l then rtry = p else rtry = ttl end
    end
  elseif alg == TB then
    local lvl, ts = l, now
    if s then
      local t0, s0 = unpack_s('<dd', s)
      local el = now - s0
      if el < 0 then el = 0 end
      lvl = t0 + (el * l) / p
      if lvl > l then lvl = l end
      if s0 > now then ts = s0 end
    end
    local level = lvl
    if lvl >= cost then
      level = lvl - cost
      ok, rtry = true, 0
      local x = level
      if x < 0 then x = 0 end
      remaining = floor(x)
      sets[ns + 1] = f
      if level >= l then sets[ns + 2] = '' else sets[ns + 2] = pack('<dd', level, ts) end
      ns = ns + 2
    else
      ok = false
      local x = lvl
      if x < 0 then x = 0 end
      remaining = floor(x)
      if cost > l then rtry = p else rtry = ceil(((cost - lvl) * p) / l) end
      if rtry < 1 then rtry = 1 end
    end
    reset = ceil(((l - level) * p) / l)
    if level < l then
      local ttl = ceil(((l - level) * p) / l + (ts - now))
      if ttl < 1 then ttl = 1 end
      if ttl + sl > keep then keep = ttl + sl end
    end
  elseif alg == GC then
    local interval = p / l
    local base = now
    if s then
      local tat = unpack_s('<d', s)
      if tat > now then base = tat end
    end
    local new_tat = base + cost * interval
    if ceil(base - now) + sl > keep then keep = ceil(base - now) + sl end
    if new_tat - now <= p + p * 1e-9 then
      local ttl = ceil(new_tat - now)
      local x = (now + p - new_tat) / interval
      if x < 0 then x = 0 end
      ok, remaining, reset, rtry = true, floor(x), ttl, 0
      if ttl + sl > keep then keep = ttl + sl end
      sets[ns + 1] = f
      if ttl > 0 then sets[ns + 2] = pack('<d', new_tat) else sets[ns + 2] = '' end
      ns = ns + 2
    else
      local x = (now + p - base) / interval
      if x < 0 then x = 0 end
      ok, remaining, reset = false, floor(x), ceil(base - now)
      if cost > l then rtry = p else rtry = ceil(new_tat - p - now) end
      if rtry < 1 then rtry = 1 end
    end
  elseif alg == CC then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    local inflight = redis.call('ZCARD', KEYS[2])
    reset = 0
    if inflight + 1 <= l then
      ok, remaining, rtry = true, l - inflight - 1, 0
      slot = p
    else
      ok, remaining = false, 0
      rtry = math.min(1000, p)
    end
  else
    return redis.error_reply('ERR unknown limit algorithm')
  end
  if ok then okc[i] = cost else okc[i] = 0 end
  out[3 + 2 * i], out[4 + 2 * i] = remaining, reset
  if not ok and rtry > retry then fail, retry = i, rtry end
end
if fail > 0 then
  out[1], out[2], out[3] = 0, fail, retry
  -- nothing was debited: dimensions that would have admitted report their level before it
  for i = 1, n do out[3 + 2 * i] = out[3 + 2 * i] + okc[i] end
  return out
end
if ns > 0 then
  if keep < 1 then keep = 1 end
  local x = v[n + 1]
  local extend = not x or unpack_s('<d', x) < now + keep
  if extend then sets[ns + 1] = '_e'; sets[ns + 2] = pack('<d', now + keep + 60000); ns = ns + 2 end
  redis.call('HSET', KEYS[1], unpack(sets))
  if extend then redis.call('PEXPIRE', KEYS[1], keep + 60000) end
end
if slot then
  redis.call('ZADD', KEYS[2], now + slot, ARGV[2])
  redis.call('PEXPIRE', KEYS[2], slot)
end
return out
`;

export const SETTLE_LUA = `
local tonumber, floor, ceil, byte, pack, unpack_s = tonumber, math.floor, math.ceil, string.byte, struct.pack, struct.unpack
local TOKENS, REQUESTS, FW, SW, TB, GC, CC = 116, 114, 102, 115, 116, 103, 99
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end
local mode = ARGV[3]
local actual = tonumber(ARGV[4])
local t, reserved = tonumber(ARGV[5]), tonumber(ARGV[6])
local n = (#ARGV - 6) / 3
local fields = {}
for i = 1, n do fields[i] = ARGV[i * 3 + 4] end
fields[n + 1] = '_e'
local v = redis.call('HMGET', KEYS[1], unpack(fields))
local sets, ns, keep = {}, 0, 0
for i = 1, n do
  local o = i * 3 + 4
  local f = ARGV[o]
  local kind, alg = byte(f, 1, 2)
  local l, p = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2])
  local s = v[i]
  if s == '' then s = false end
  local sl = p
  if sl > 60000 then sl = 60000 end
  local delta = 0
  if kind == TOKENS then
    if mode == 'refund' or mode == 'rollback' then delta = -reserved
    elseif mode == 'actual' then delta = actual - reserved end
  elseif kind == REQUESTS and mode == 'rollback' then delta = -1 end
  if alg == FW or alg == SW then
    -- only the window the reservation was debited in; over = nothing to do
    if delta ~= 0 and s then
      local tidx = floor(t / p)
      if alg == FW then
        local sidx, c0 = unpack_s('<dd', s)
        if sidx == tidx then
          local x = c0 + delta
          if x < 0 then x = 0 end
          sets[ns + 1] = f; sets[ns + 2] = pack('<dd', sidx, x); ns = ns + 2
        end
      else
        local sidx, c0, p0 = unpack_s('<ddd', s)
        if sidx == tidx then
          local x = c0 + delta
          if x < 0 then x = 0 end
          sets[ns + 1] = f; sets[ns + 2] = pack('<ddd', sidx, x, p0); ns = ns + 2
        elseif sidx == tidx + 1 then
          local x = p0 + delta
          if x < 0 then x = 0 end
          sets[ns + 1] = f; sets[ns + 2] = pack('<ddd', sidx, c0, x); ns = ns + 2
        end
      end
    end
  elseif alg == TB then
    if delta ~= 0 then
      local lvl, ts = l, now
      if s then
        local t0, s0 = unpack_s('<dd', s)
        local el = now - s0
        if el < 0 then el = 0 end
        lvl = t0 + (el * l) / p
        if lvl > l then lvl = l end
        if s0 > now then ts = s0 end
      end
      local after = lvl - delta
      if after > l then after = l end
      sets[ns + 1] = f
      if after >= l then sets[ns + 2] = ''
      else
        sets[ns + 2] = pack('<dd', after, ts)
        local ttl = ceil(((l - after) * p) / l + (ts - now))
        if ttl < 1 then ttl = 1 end
        if ttl + sl > keep then keep = ttl + sl end
      end
      ns = ns + 2
    end
  elseif alg == GC then
    if delta ~= 0 then
      local interval = p / l
      local base = now
      if s then
        local tat = unpack_s('<d', s)
        if tat > now then base = tat end
      end
      local nxt = base + delta * interval
      local ttl = ceil(nxt - now)
      sets[ns + 1] = f
      if ttl > 0 then
        sets[ns + 2] = pack('<d', nxt)
        if ttl + sl > keep then keep = ttl + sl end
      else sets[ns + 2] = '' end
      ns = ns + 2
    end
  elseif alg == CC then
    redis.call('ZREM', KEYS[2], ARGV[2])
  end
end
if ns > 0 then
  -- never shorten the hash's life: only extend it when a bucket/GCRA debt needs longer
  if keep < 1 then keep = 1 end
  local x = v[n + 1]
  local extend = not x or unpack_s('<d', x) < now + keep
  if extend then sets[ns + 1] = '_e'; sets[ns + 2] = pack('<d', now + keep + 60000); ns = ns + 2 end
  redis.call('HSET', KEYS[1], unpack(sets))
  if extend then redis.call('PEXPIRE', KEYS[1], keep + 60000) end
end
return 1
`;
