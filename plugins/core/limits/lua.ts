/**
 * The Redis side of ./engine.ts: one script decides every dimension of a request atomically
 * (checks all, debits all or nothing), one script settles it. Same arithmetic as the pure cores
 * in ./algorithms.ts, in the same order, on doubles; floats are stored with %.17g so they
 * round-trip exactly.
 *
 * Layout (few Redis calls per decision — the cost of a script is mostly its redis.call()s):
 *  - KEYS[1] reservation record, a string "t tokens" (SET NX PX: also the duplicate check);
 *  - KEYS[2] state hash of the scope: one field per dimension (`rpm:sw`, `tpd:fw`, ...):
 *      fw "idx count" · sw "idx curr prev" · tb "tokens ts" · gc "tat" · "" = no state;
 *    read with one HMGET, written with one HSET + PEXPIRE (the longest TTL any field needs);
 *  - KEYS[3] concurrency sorted set (member = request id, score = slot expiry).
 * All three carry the tenant's hash tag: one slot, so the script runs unchanged on a Cluster.
 *
 * DECIDE ARGV: now_override ('' = Redis TIME), request_id, tokens, write_record (0/1),
 *   record_ttl_ms, n, then per dimension: kind (r|t|c), alg (fw|sw|tb|gc|cc), limit, period_ms, field.
 * DECIDE returns: {status (1 allowed, 0 denied, -1 duplicate request id), fail_index (1-based,
 *   0 = none), retry_ms, now, remaining_1, reset_1, ..., remaining_n, reset_n}.
 *
 * SETTLE ARGV: now_override, request_id, mode (refund|actual|keep|rollback), actual_tokens, n,
 *   then per dimension: kind, alg, limit, period_ms, field. Returns 1 when a reservation was settled.
 */

const COMMON = `
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function slack(p) if p < 60000 then return p end return 60000 end
local function nonneg(x) if x < 0 then return 0 end return x end
local function fmt(x)
  -- integers (counters, ms timestamps) print exactly with tostring (%.14g) below 1e14
  if x == math.floor(x) and x < 1e14 and x > -1e14 then return tostring(x) end
  return string.format('%.17g', x)
end
local TOL = 1e-9
-- window counters: count of window idx (fw), or curr/prev of idx and idx-1 (sw)
local function win(raw, idx)
  if not raw or raw == '' then return 0, 0 end
  local a, b, c = string.match(raw, '^(%S+) (%S+) ?(%S*)$')
  local sidx, cur, prev = tonumber(a), tonumber(b), tonumber(c) or 0
  if sidx == idx then return cur, prev end
  if sidx == idx - 1 then return 0, cur end
  return 0, 0
end
local function bucket_level(raw, now, p, l)
  if not raw or raw == '' then return l, now end
  local a, b = string.match(raw, '^(%S+) (%S+)$')
  local tokens, ts = tonumber(a), tonumber(b)
  local elapsed = nonneg(now - ts)
  tokens = tokens + (elapsed * l) / p
  if tokens > l then tokens = l end
  if ts > now then return tokens, ts end
  return tokens, now
end
-- value and TTL to store for a bucket ('' when full)
local function bucket_value(tokens, ts, now, p, l)
  if tokens >= l then return '', 0 end
  local ttl = math.ceil(((l - tokens) * p) / l + (ts - now))
  if ttl < 1 then ttl = 1 end
  return fmt(tokens) .. ' ' .. fmt(ts), ttl + slack(p)
end
local function parse_dims(base, n)
  local dims = {}
  for i = 1, n do
    local o = base + (i - 1) * 5
    dims[i] = {kind = ARGV[o + 1], alg = ARGV[o + 2], l = tonumber(ARGV[o + 3]), p = tonumber(ARGV[o + 4]), field = ARGV[o + 5]}
  end
  return dims
end
local function read_state(dims)
  local fields = {}
  for i = 1, #dims do if dims[i].alg ~= 'cc' then fields[#fields + 1] = dims[i].field end end
  local vals = {}
  if #fields > 0 then
    local got = redis.call('HMGET', KEYS[2], unpack(fields))
    local j = 0
    for i = 1, #dims do if dims[i].alg ~= 'cc' then j = j + 1; vals[i] = got[j] end end
  end
  return vals
end
local function write_state(sets, ttl)
  if #sets > 0 then
    redis.call('HSET', KEYS[2], unpack(sets))
    if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
  end
end
`;

export const DECIDE_LUA = `${COMMON}
local now = clock(ARGV[1])
local rid = ARGV[2]
local tokens = tonumber(ARGV[3])
local write_record = ARGV[4] == '1'
local n = tonumber(ARGV[6])
if write_record then
  if not redis.call('SET', KEYS[1], fmt(now) .. ' ' .. fmt(tokens), 'NX', 'PX', tonumber(ARGV[5])) then
    local out = {-1, 0, 1000, now}
    for i = 1, n do out[#out + 1] = 0; out[#out + 1] = 0 end
    return out
  end
end
local dims = parse_dims(6, n)
local vals = read_state(dims)
local sets, slot = {}, nil
-- the state hash must outlive every field's need: the longest TTL over all dimensions
local keep = 0
local rem, rst, cost_ok = {}, {}, {}
local fail, retry = 0, 0
for i = 1, n do
  local d = dims[i]
  local alg, l, p = d.alg, d.l, d.p
  local cost = 1
  if d.kind == 't' then cost = tokens end
  local ok, remaining, reset, rtry
  if alg == 'fw' then
    local idx = math.floor(now / p)
    local count = win(vals[i], idx)
    local fin = (idx + 1) * p
    local ttl = math.ceil(fin - now)
    reset = ttl
    if ttl + slack(p) > keep then keep = ttl + slack(p) end
    if count + cost <= l then
      ok, remaining, rtry = true, math.floor(nonneg(l - count - cost)), 0
      if cost ~= 0 then sets[#sets + 1] = d.field; sets[#sets + 1] = tostring(idx) .. ' ' .. fmt(count + cost) end
    else
      ok, remaining = false, math.floor(nonneg(l - count))
      if cost > l then rtry = p else rtry = ttl end
    end
  elseif alg == 'sw' then
    local idx = math.floor(now / p)
    local curr, prev = win(vals[i], idx)
    local start = idx * p
    local elapsed = now - start
    local est = (prev * (p - elapsed)) / p + curr
    local ttl = math.ceil(start + 2 * p - now) + slack(p)
    if ttl > keep then keep = ttl end
    if est + cost <= l then
      ok, remaining, rtry = true, math.floor(nonneg(l - est - cost)), 0
      if cost > 0 or curr > 0 then reset = math.ceil(p - elapsed + p)
      elseif prev > 0 then reset = math.ceil(p - elapsed)
      else reset = 0 end
      if cost ~= 0 then sets[#sets + 1] = d.field; sets[#sets + 1] = tostring(idx) .. ' ' .. fmt(curr + cost) .. ' ' .. fmt(prev) end
    else
      ok, remaining = false, math.floor(nonneg(l - est))
      local need = l - cost
      if need < 0 then rtry = p
      elseif curr <= need then rtry = math.ceil(p - ((need - curr) * p) / prev - elapsed)
      else rtry = math.ceil(p - elapsed + (p - (need * p) / curr)) end
      if rtry < 1 then rtry = 1 end
      if curr > 0 then reset = math.ceil(p - elapsed + p) else reset = math.ceil(p - elapsed) end
    end
  elseif alg == 'tb' then
    local lvl, ts = bucket_level(vals[i], now, p, l)
    if lvl >= cost then
      local after = lvl - cost
      ok, remaining, rtry = true, math.floor(nonneg(after)), 0
      reset = math.ceil(((l - after) * p) / l)
      local v, ttl = bucket_value(after, ts, now, p, l)
      if ttl > keep then keep = ttl end
      sets[#sets + 1] = d.field; sets[#sets + 1] = v
    else
      ok, remaining = false, math.floor(nonneg(lvl))
      reset = math.ceil(((l - lvl) * p) / l)
      if cost > l then rtry = p else rtry = math.ceil(((cost - lvl) * p) / l) end
      if rtry < 1 then rtry = 1 end
      local _, ttl = bucket_value(lvl, ts, now, p, l)
      if ttl > keep then keep = ttl end
    end
  elseif alg == 'gc' then
    local interval = p / l
    local tat = tonumber(vals[i] or '')
    local base = now
    if tat and tat > now then base = tat end
    local new_tat = base + cost * interval
    if math.ceil(base - now) + slack(p) > keep then keep = math.ceil(base - now) + slack(p) end
    if new_tat - now <= p + p * TOL then
      local ttl = math.ceil(new_tat - now)
      ok, remaining, reset, rtry = true, math.floor(nonneg((now + p - new_tat) / interval)), ttl, 0
      if ttl + slack(p) > keep then keep = ttl + slack(p) end
      sets[#sets + 1] = d.field
      if ttl > 0 then sets[#sets + 1] = fmt(new_tat) else sets[#sets + 1] = '' end
    else
      ok, remaining, reset = false, math.floor(nonneg((now + p - base) / interval)), math.ceil(base - now)
      if cost > l then rtry = p else rtry = math.ceil(new_tat - p - now) end
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
  if ok then cost_ok[i] = cost else cost_ok[i] = 0 end
  rem[i], rst[i] = remaining, reset
  if not ok and rtry > retry then fail, retry = i, rtry end
end
local out = {1, 0, 0, now}
if fail > 0 then
  out[1], out[2], out[3] = 0, fail, retry
  -- nothing was debited: dimensions that would have admitted report their level before it
  for i = 1, n do rem[i] = rem[i] + cost_ok[i] end
  if write_record then redis.call('DEL', KEYS[1]) end
else
  write_state(sets, keep)
  if slot then
    redis.call('ZADD', KEYS[3], now + slot, rid)
    redis.call('PEXPIRE', KEYS[3], slot)
  end
end
for i = 1, n do out[#out + 1] = rem[i]; out[#out + 1] = rst[i] end
return out
`;

export const SETTLE_LUA = `${COMMON}
local now = clock(ARGV[1])
local rid = ARGV[2]
local mode = ARGV[3]
local actual = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local rec = redis.call('GET', KEYS[1])
if not rec then return 0 end
local ra, rb = string.match(rec, '^(%S+) (%S+)$')
local t, reserved = tonumber(ra), tonumber(rb)
local dims = parse_dims(5, n)
local vals = read_state(dims)
local sets = {}
local keep = 0
for i = 1, n do
  local d = dims[i]
  local alg, l, p = d.alg, d.l, d.p
  local delta = 0
  if d.kind == 't' then
    if mode == 'refund' or mode == 'rollback' then delta = -reserved
    elseif mode == 'actual' then delta = actual - reserved end
  elseif d.kind == 'r' and mode == 'rollback' then delta = -1 end
  if alg == 'fw' or alg == 'sw' then
    -- only the window the reservation was debited in; over = nothing to do
    local raw = vals[i]
    if delta ~= 0 and raw and raw ~= '' then
      local a, b, c = string.match(raw, '^(%S+) (%S+) ?(%S*)$')
      local sidx, cur, prev = tonumber(a), tonumber(b), tonumber(c) or 0
      local tidx = math.floor(t / p)
      local changed = true
      if sidx == tidx then cur = nonneg(cur + delta)
      elseif alg == 'sw' and sidx == tidx + 1 then prev = nonneg(prev + delta)
      else changed = false end
      if changed then
        sets[#sets + 1] = d.field
        if alg == 'fw' then sets[#sets + 1] = a .. ' ' .. fmt(cur)
        else sets[#sets + 1] = a .. ' ' .. fmt(cur) .. ' ' .. fmt(prev) end
      end
    end
  elseif alg == 'tb' then
    if delta ~= 0 then
      local lvl, ts = bucket_level(vals[i], now, p, l)
      local after = lvl - delta
      if after > l then after = l end
      local v, ttl = bucket_value(after, ts, now, p, l)
      if ttl > keep then keep = ttl end
      sets[#sets + 1] = d.field; sets[#sets + 1] = v
    end
  elseif alg == 'gc' then
    if delta ~= 0 then
      local interval = p / l
      local tat = tonumber(vals[i] or '')
      local base = now
      if tat and tat > now then base = tat end
      local nxt = base + delta * interval
      local ttl = math.ceil(nxt - now)
      sets[#sets + 1] = d.field
      if ttl > 0 then
        sets[#sets + 1] = fmt(nxt)
        if ttl + slack(p) > keep then keep = ttl + slack(p) end
      else sets[#sets + 1] = '' end
    end
  elseif alg == 'cc' then
    redis.call('ZREM', KEYS[3], rid)
  end
end
if #sets > 0 then
  -- never shorten the hash's life: only extend it when a bucket/GCRA debt needs longer
  redis.call('HSET', KEYS[2], unpack(sets))
  if keep > 0 and redis.call('PTTL', KEYS[2]) < keep then redis.call('PEXPIRE', KEYS[2], keep) end
end
redis.call('DEL', KEYS[1])
return 1
`;
