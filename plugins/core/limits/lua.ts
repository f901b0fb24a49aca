/**
 * The Redis side of ./engine.ts: one script decides every dimension of a request atomically
 * (checks all, debits all or nothing), one script settles it. Same arithmetic as the pure cores
 * in ./algorithms.ts, in the same order, on doubles (Lua 5.1 numbers are doubles; Redis turns
 * numbers into strings with 17 significant digits, so state round-trips exactly).
 *
 * Layout — few Redis calls and little Lua work per decision (the cost of a script is its
 * redis.call()s plus its allocations):
 *  - KEYS[1] reservation record, a string "t tokens" (SET NX PX: also the duplicate check),
 *    written without string.format: the override and tokens as Node sent them (they round-trip
 *    to the same doubles), Redis TIME's integer milliseconds as Lua prints them (exact < 1e14);
 *  - KEYS[2] state hash of the scope, numeric fields per dimension `<field>.1|2|3`:
 *      fw: window index, count · sw: window index, current, previous · tb: tokens, timestamp ·
 *      gc: TAT; an empty string = no state. `_x` holds the hash's expiry (ms): PEXPIRE runs only
 *      when the hash must live longer than that (then with a minute of margin);
 *  - KEYS[3] concurrency sorted set (member = request id, score = slot expiry).
 * All three carry the tenant's hash tag: one slot, so the script runs unchanged on a Cluster.
 * A decision is: TIME, SET NX (record), HMGET, HSET, [PEXPIRE], [+3 for concurrency].
 *
 * DECIDE ARGV: now_override ('' = Redis TIME), request_id, tokens, write_record (0/1),
 *   record_ttl_ms, n, then per dimension: kind (r|t|c), alg (fw|sw|tb|gc|cc), limit, period_ms,
 *   field (the script reads and writes `<field>.1|2|3`).
 * DECIDE returns: {status (1 allowed, 0 denied, -1 duplicate request id), fail_index (1-based,
 *   0 = none), retry_ms, now, remaining_1, reset_1, ..., remaining_n, reset_n}.
 *
 * SETTLE ARGV: now_override, request_id, mode (refund|actual|keep|rollback), actual_tokens, n,
 *   then per dimension the same 5 values. Returns 1 when a reservation was settled.
 */

/** Values per dimension in ARGV. */
export const DIM_ARGS = 5;

export const DECIDE_LUA = `
local tonumber, floor, ceil = tonumber, math.floor, math.ceil
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end
local tokens = tonumber(ARGV[3])
local write_record = ARGV[4] == '1'
local n = tonumber(ARGV[6])
local out = {1, 0, 0, now}
if write_record then
  if not redis.call('SET', KEYS[1], (ARGV[1] ~= '' and ARGV[1] or now) .. ' ' .. ARGV[3], 'NX', 'PX', tonumber(ARGV[5])) then
    out[1], out[3] = -1, 1000
    for i = 1, n do out[3 + 2 * i] = 0; out[4 + 2 * i] = 0 end
    return out
  end
end
local fields = {}
for i = 1, n do
  local f = ARGV[6 + i * 5]
  fields[3 * i - 2], fields[3 * i - 1], fields[3 * i] = f .. '.1', f .. '.2', f .. '.3'
end
fields[3 * n + 1] = '_x'
local v = redis.call('HMGET', KEYS[2], unpack(fields))
local sets, ns, keep = {}, 0, 0
local okc = {}
local fail, retry, slot = 0, 0, nil
for i = 1, n do
  local o = 6 + (i - 1) * 5
  local alg, l, p = ARGV[o + 2], tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  local b = 3 * i - 2
  local cost = 1
  if ARGV[o + 1] == 't' then cost = tokens end
  local sl = p
  if sl > 60000 then sl = 60000 end
  local ok, remaining, reset, rtry
  if alg == 'fw' then
    local idx = floor(now / p)
    local count = 0
    if tonumber(v[b]) == idx then count = tonumber(v[b + 1]) or 0 end
    local ttl = ceil((idx + 1) * p - now)
    reset = ttl
    if ttl + sl > keep then keep = ttl + sl end
    if count + cost <= l then
      local x = l - count - cost
      if x < 0 then x = 0 end
      ok, remaining, rtry = true, floor(x), 0
      if cost ~= 0 then
        -- a field already holding the value it would get is not written again
        if tonumber(v[b]) ~= idx then sets[ns + 1] = fields[b]; sets[ns + 2] = idx; ns = ns + 2 end
        sets[ns + 1] = fields[b + 1]; sets[ns + 2] = count + cost
        ns = ns + 2
      end
    else
      local x = l - count
      if x < 0 then x = 0 end
      ok, remaining = false, floor(x)
      if cost > l then rtry = p else rtry = ttl end
    end
  elseif alg == 'sw' then
    local idx = floor(now / p)
    local sidx = tonumber(v[b])
    local curr, prev = 0, 0
    if sidx == idx then curr = tonumber(v[b + 1]) or 0; prev = tonumber(v[b + 2]) or 0
    elseif sidx == idx - 1 then prev = tonumber(v[b + 1]) or 0 end
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
      if cost ~= 0 then
        if sidx ~= idx then sets[ns + 1] = fields[b]; sets[ns + 2] = idx; ns = ns + 2 end
        sets[ns + 1] = fields[b + 1]; sets[ns + 2] = curr + cost
        ns = ns + 2
        if not v[b + 2] or tonumber(v[b + 2]) ~= prev then sets[ns + 1] = fields[b + 2]; sets[ns + 2] = prev; ns = ns + 2 end
      end
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
  elseif alg == 'tb' then
    local lvl, ts = l, now
    local t0 = tonumber(v[b])
    if t0 then
      local s0 = tonumber(v[b + 1])
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
      sets[ns + 1] = fields[b]; sets[ns + 3] = fields[b + 1]
      if level >= l then sets[ns + 2] = ''; sets[ns + 4] = ''
      else sets[ns + 2] = level; sets[ns + 4] = ts end
      ns = ns + 4
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
  elseif alg == 'gc' then
    local interval = p / l
    local tat = tonumber(v[b])
    local base = now
    if tat and tat > now then base = tat end
    local new_tat = base + cost * interval
    if ceil(base - now) + sl > keep then keep = ceil(base - now) + sl end
    if new_tat - now <= p + p * 1e-9 then
      local ttl = ceil(new_tat - now)
      local x = (now + p - new_tat) / interval
      if x < 0 then x = 0 end
      ok, remaining, reset, rtry = true, floor(x), ttl, 0
      if ttl + sl > keep then keep = ttl + sl end
      sets[ns + 1] = fields[b]
      if ttl > 0 then sets[ns + 2] = new_tat else sets[ns + 2] = '' end
      ns = ns + 2
    else
      local x = (now + p - base) / interval
      if x < 0 then x = 0 end
      ok, remaining, reset = false, floor(x), ceil(base - now)
      if cost > l then rtry = p else rtry = ceil(new_tat - p - now) end
      if rtry < 1 then rtry = 1 end
    end
  elseif alg == 'cc' then
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
    local inflight = redis.call('ZCARD', KEYS[3])
    reset = 0
    if inflight + 1 <= l then
      ok, remaining, rtry = true, l - inflight - 1, 0
      slot = p
    else
      ok, remaining = false, 0
      rtry = math.min(1000, p)
    end
  else
    if write_record then redis.call('DEL', KEYS[1]) end
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
  if write_record then redis.call('DEL', KEYS[1]) end
  return out
end
if ns > 0 then
  if keep < 1 then keep = 1 end
  local x = tonumber(v[3 * n + 1])
  local extend = not x or x < now + keep
  if extend then sets[ns + 1] = '_x'; sets[ns + 2] = now + keep + 60000; ns = ns + 2 end
  redis.call('HSET', KEYS[2], unpack(sets))
  if extend then redis.call('PEXPIRE', KEYS[2], keep + 60000) end
end
if slot then
  redis.call('ZADD', KEYS[3], now + slot, ARGV[2])
  redis.call('PEXPIRE', KEYS[3], slot)
end
return out
`;

export const SETTLE_LUA = `
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local mode = ARGV[3]
local actual = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local rec = redis.call('GET', KEYS[1])
if not rec then return 0 end
local ra, rb = string.match(rec, '^(%S+) (%S+)$')
local t, reserved = tonumber(ra), tonumber(rb)
local fields = {}
for i = 1, n do
  local f = ARGV[5 + i * 5]
  fields[3 * i - 2], fields[3 * i - 1], fields[3 * i] = f .. '.1', f .. '.2', f .. '.3'
end
fields[3 * n + 1] = '_x'
local v = redis.call('HMGET', KEYS[2], unpack(fields))
local sets, ns, keep = {}, 0, 0
for i = 1, n do
  local o = 5 + (i - 1) * 5
  local kind, alg, l, p = ARGV[o + 1], ARGV[o + 2], tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  local b = 3 * i - 2
  local sl = p
  if sl > 60000 then sl = 60000 end
  local delta = 0
  if kind == 't' then
    if mode == 'refund' or mode == 'rollback' then delta = -reserved
    elseif mode == 'actual' then delta = actual - reserved end
  elseif kind == 'r' and mode == 'rollback' then delta = -1 end
  if alg == 'fw' or alg == 'sw' then
    -- only the window the reservation was debited in; over = nothing to do
    local sidx = tonumber(v[b])
    if delta ~= 0 and sidx then
      local tidx = math.floor(t / p)
      if sidx == tidx then
        local x = (tonumber(v[b + 1]) or 0) + delta
        if x < 0 then x = 0 end
        sets[ns + 1] = fields[b + 1]; sets[ns + 2] = x; ns = ns + 2
      elseif alg == 'sw' and sidx == tidx + 1 then
        local x = (tonumber(v[b + 2]) or 0) + delta
        if x < 0 then x = 0 end
        sets[ns + 1] = fields[b + 2]; sets[ns + 2] = x; ns = ns + 2
      end
    end
  elseif alg == 'tb' then
    if delta ~= 0 then
      local lvl, ts = l, now
      local t0 = tonumber(v[b])
      if t0 then
        local s0 = tonumber(v[b + 1])
        local el = now - s0
        if el < 0 then el = 0 end
        lvl = t0 + (el * l) / p
        if lvl > l then lvl = l end
        if s0 > now then ts = s0 end
      end
      local after = lvl - delta
      if after > l then after = l end
      sets[ns + 1] = fields[b]; sets[ns + 3] = fields[b + 1]
      if after >= l then sets[ns + 2] = ''; sets[ns + 4] = ''
      else
        sets[ns + 2] = after; sets[ns + 4] = ts
        local ttl = math.ceil(((l - after) * p) / l + (ts - now))
        if ttl < 1 then ttl = 1 end
        if ttl + sl > keep then keep = ttl + sl end
      end
      ns = ns + 4
    end
  elseif alg == 'gc' then
    if delta ~= 0 then
      local interval = p / l
      local tat = tonumber(v[b])
      local base = now
      if tat and tat > now then base = tat end
      local nxt = base + delta * interval
      local ttl = math.ceil(nxt - now)
      sets[ns + 1] = fields[b]
      if ttl > 0 then
        sets[ns + 2] = nxt
        if ttl + sl > keep then keep = ttl + sl end
      else sets[ns + 2] = '' end
      ns = ns + 2
    end
  elseif alg == 'cc' then
    redis.call('ZREM', KEYS[3], ARGV[2])
  end
end
if ns > 0 then
  -- never shorten the hash's life: only extend it when a bucket/GCRA debt needs longer
  if keep < 1 then keep = 1 end
  local x = tonumber(v[3 * n + 1])
  local extend = not x or x < now + keep
  if extend then sets[ns + 1] = '_x'; sets[ns + 2] = now + keep + 60000; ns = ns + 2 end
  redis.call('HSET', KEYS[2], unpack(sets))
  if extend then redis.call('PEXPIRE', KEYS[2], keep + 60000) end
end
redis.call('DEL', KEYS[1])
return 1
`;
