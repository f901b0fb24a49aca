/**
 * The Redis side of ./engine.ts: one script decides every dimension of a request atomically
 * (checks all, debits all or nothing), one script settles it. Same arithmetic as the pure cores
 * in ./algorithms.ts, in the same order, on doubles; floats are stored with %.17g so they
 * round-trip exactly.
 *
 * Keys: KEYS[1] = reservation record, KEYS[1+i] = base key of dimension i. Windowed algorithms
 * read/write `<base>:<window index>`, derived inside the script from Redis TIME; those keys carry
 * the same hash tag as the declared ones (same slot), so the script runs unchanged on Redis
 * Cluster.
 *
 * DECIDE ARGV: now_override ('' = Redis TIME), request_id, tokens, write_record (0/1),
 *   record_ttl_ms, n, then per dimension: kind (r|t|c), alg (fw|sw|tb|gc|cc), limit, period_ms.
 * DECIDE returns: {status (1 allowed, 0 denied, -1 duplicate request id), fail_index (1-based,
 *   0 = none), retry_ms, now, remaining_1, reset_1, ..., remaining_n, reset_n}.
 *
 * SETTLE ARGV: now_override, request_id, mode (refund|actual|keep|rollback), actual_tokens, n,
 *   then per dimension: kind, alg, limit, period_ms. Returns 1 when a reservation was settled.
 */

const COMMON = `
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function slack(p) if p < 60000 then return p end return 60000 end
local function nonneg(x) if x < 0 then return 0 end return x end
local function fmt(x) return string.format('%.17g', x) end
local function wkey(base, idx) return base .. ':' .. string.format('%d', idx) end
local function bucket_level(raw, now, p, l)
  if not raw then return l, now end
  local a, b = string.match(raw, '^(%S+) (%S+)$')
  local tokens, ts = tonumber(a), tonumber(b)
  local elapsed = nonneg(now - ts)
  tokens = tokens + (elapsed * l) / p
  if tokens > l then tokens = l end
  if ts > now then return tokens, ts end
  return tokens, now
end
local function bucket_store(key, tokens, ts, now, p, l)
  if tokens >= l then redis.call('DEL', key) return end
  local ttl = math.ceil(((l - tokens) * p) / l + (ts - now))
  if ttl < 1 then ttl = 1 end
  redis.call('SET', key, fmt(tokens) .. ' ' .. fmt(ts), 'PX', ttl + slack(p))
end
local TOL = 1e-9
`;

export const DECIDE_LUA = `${COMMON}
local now = clock(ARGV[1])
local rid = ARGV[2]
local tokens = tonumber(ARGV[3])
local write_record = ARGV[4] == '1'
local n = tonumber(ARGV[6])
if write_record and redis.call('EXISTS', KEYS[1]) == 1 then
  local out = {-1, 0, 1000, now}
  for i = 1, n do out[#out + 1] = 0; out[#out + 1] = 0 end
  return out
end
local writes = {}
local rem, rst, cost_ok = {}, {}, {}
local fail, retry = 0, 0
for i = 1, n do
  local o = 6 + (i - 1) * 4
  local kind, alg, l, p = ARGV[o + 1], ARGV[o + 2], tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  local key = KEYS[i + 1]
  local cost = 1
  if kind == 't' then cost = tokens end
  local ok, remaining, reset, rtry
  if alg == 'fw' then
    local k = wkey(key, math.floor(now / p))
    local count = tonumber(redis.call('GET', k) or '0')
    local fin = (math.floor(now / p) + 1) * p
    local ttl = math.ceil(fin - now)
    reset = ttl
    if count + cost <= l then
      ok, remaining, rtry = true, math.floor(nonneg(l - count - cost)), 0
      if cost ~= 0 then writes[#writes + 1] = {'SET', k, fmt(count + cost), 'PX', ttl + slack(p)} end
    else
      ok, remaining = false, math.floor(nonneg(l - count))
      if cost > l then rtry = p else rtry = ttl end
    end
  elseif alg == 'sw' then
    local idx = math.floor(now / p)
    local k = wkey(key, idx)
    local prev = tonumber(redis.call('GET', wkey(key, idx - 1)) or '0')
    local curr = tonumber(redis.call('GET', k) or '0')
    local start = idx * p
    local elapsed = now - start
    local est = (prev * (p - elapsed)) / p + curr
    local ttl = math.ceil(start + 2 * p - now) + slack(p)
    if est + cost <= l then
      ok, remaining, rtry = true, math.floor(nonneg(l - est - cost)), 0
      if cost > 0 or curr > 0 then reset = math.ceil(p - elapsed + p)
      elseif prev > 0 then reset = math.ceil(p - elapsed)
      else reset = 0 end
      if cost ~= 0 then writes[#writes + 1] = {'SET', k, fmt(curr + cost), 'PX', ttl} end
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
    local lvl, ts = bucket_level(redis.call('GET', key) or nil, now, p, l)
    if lvl >= cost then
      local after = lvl - cost
      ok, remaining, rtry = true, math.floor(nonneg(after)), 0
      reset = math.ceil(((l - after) * p) / l)
      writes[#writes + 1] = {'BUCKET', key, after, ts, p, l}
    else
      ok, remaining = false, math.floor(nonneg(lvl))
      reset = math.ceil(((l - lvl) * p) / l)
      if cost > l then rtry = p else rtry = math.ceil(((cost - lvl) * p) / l) end
      if rtry < 1 then rtry = 1 end
    end
  elseif alg == 'gc' then
    local interval = p / l
    local tat = tonumber(redis.call('GET', key) or '')
    local base = now
    if tat and tat > now then base = tat end
    local new_tat = base + cost * interval
    if new_tat - now <= p + p * TOL then
      local ttl = math.ceil(new_tat - now)
      ok, remaining, reset, rtry = true, math.floor(nonneg((now + p - new_tat) / interval)), ttl, 0
      if ttl > 0 then writes[#writes + 1] = {'SET', key, fmt(new_tat), 'PX', ttl + slack(p)}
      else writes[#writes + 1] = {'DEL', key} end
    else
      ok, remaining, reset = false, math.floor(nonneg((now + p - base) / interval)), math.ceil(base - now)
      if cost > l then rtry = p else rtry = math.ceil(new_tat - p - now) end
      if rtry < 1 then rtry = 1 end
    end
  else -- cc
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local inflight = redis.call('ZCARD', key)
    reset = 0
    if inflight + 1 <= l then
      ok, remaining, rtry = true, l - inflight - 1, 0
      writes[#writes + 1] = {'SLOT', key, p}
    else
      ok, remaining = false, 0
      rtry = math.min(1000, p)
    end
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
else
  for _, w in ipairs(writes) do
    if w[1] == 'SET' then redis.call('SET', w[2], w[3], 'PX', w[5])
    elseif w[1] == 'DEL' then redis.call('DEL', w[2])
    elseif w[1] == 'BUCKET' then bucket_store(w[2], w[3], w[4], now, w[5], w[6])
    else
      redis.call('ZADD', w[2], now + w[3], rid)
      redis.call('PEXPIRE', w[2], w[3])
    end
  end
  if write_record then
    redis.call('HSET', KEYS[1], 't', fmt(now), 'r', fmt(tokens))
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
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
local rec = redis.call('HMGET', KEYS[1], 't', 'r')
if not rec[1] then return 0 end
local t, reserved = tonumber(rec[1]), tonumber(rec[2])
for i = 1, n do
  local o = 5 + (i - 1) * 4
  local kind, alg, l, p = ARGV[o + 1], ARGV[o + 2], tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4])
  local key = KEYS[i + 1]
  local delta = 0
  if kind == 't' then
    if mode == 'refund' or mode == 'rollback' then delta = -reserved
    elseif mode == 'actual' then delta = actual - reserved end
  elseif kind == 'r' and mode == 'rollback' then delta = -1 end
  if alg == 'fw' or alg == 'sw' then
    local k = wkey(key, math.floor(t / p))
    local cur = redis.call('GET', k)
    if cur and delta ~= 0 then
      redis.call('SET', k, fmt(nonneg(tonumber(cur) + delta)), 'KEEPTTL')
    end
  elseif alg == 'tb' then
    if delta ~= 0 then
      local lvl, ts = bucket_level(redis.call('GET', key) or nil, now, p, l)
      local after = lvl - delta
      if after > l then after = l end
      bucket_store(key, after, ts, now, p, l)
    end
  elseif alg == 'gc' then
    if delta ~= 0 then
      local interval = p / l
      local tat = tonumber(redis.call('GET', key) or '')
      local base = now
      if tat and tat > now then base = tat end
      local nxt = base + delta * interval
      local ttl = math.ceil(nxt - now)
      if ttl > 0 then redis.call('SET', key, fmt(nxt), 'PX', ttl + slack(p)) else redis.call('DEL', key) end
    end
  else
    redis.call('ZREM', key, rid)
  end
end
redis.call('DEL', KEYS[1])
return 1
`;
