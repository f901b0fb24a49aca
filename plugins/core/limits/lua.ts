/**
 * The Redis side of ./engine.ts: one script decides every dimension of a request atomically
 * (checks all, debits all or nothing), one script settles it. Same arithmetic as the pure cores
 * in ./algorithms.ts, in the same order, on doubles (Lua 5.1 numbers are doubles).
 *
 * The cost of a script is its redis.call()s, its argument strings (each number is parsed) and
 * its allocations, so:
 *  - Dimensions that share an algorithm and a period (requests and tokens per minute, say) are
 *    one *group*: one field of the scope's state hash, one argument list, one read and one
 *    write of their packed state, their window arithmetic done once. A group has a request
 *    member and/or a token member; an absent member's limit is 0 and its state is carried
 *    unchanged, so adding or removing a limit keeps the other's count.
 *  - State is packed as little-endian doubles with Redis's `struct` library (exact, and no
 *    number formatting or parsing in Lua):
 *      fw '<ddd'   window index, requests, tokens
 *      sw '<ddddd' window index, requests current, requests previous, tokens current, previous
 *                  (a count of -1 = that member has no counter in that window, as in the engine)
 *      tb '<dddd'  requests level, timestamp, tokens level, timestamp (level inf = full)
 *      gc '<dd'    requests TAT, tokens TAT (0 = none)
 *    A field that would hold only full buckets / past TATs is written as ''; absent or '' = no
 *    state. `_e` holds the hash's expiry ('<d', ms): PEXPIRE runs only when the hash must live
 *    longer than that (then with a minute of margin).
 *  - KEYS[2] is the concurrency sorted set (member = request id, score = slot expiry); a `cc`
 *    group has a request member only (its limit = concurrent requests, its period = slot life).
 *  Both keys carry the tenant's hash tag: one slot, so the script runs unchanged on a Cluster.
 *  - The reservation (decision time, reserved tokens) is not a Redis key: the decision returns
 *    its time and the plugin server keeps both until the log phase (./reservations.ts), which
 *    hands them to the settle script.
 * A decision is: TIME, HMGET, HSET, [PEXPIRE], [+3 for concurrency].
 *
 * Each group is 4 arguments: field (`<alg>:<period>[#n]`, its first byte names the algorithm),
 * request limit (0 = none), token limit (0 = none), period_ms. ./redis.ts builds the groups
 * from a request's dimensions and maps the reply back to them.
 *
 * DECIDE ARGV: now_override ('' = Redis TIME), request_id, tokens, then the groups.
 * DECIDE returns, packed as little-endian doubles in one string (Redis turns a table of numbers
 *   into one reply element each, which costs it and the client more than one string): status
 *   (1 allowed, 0 denied), now, then per group, request member then token member: remaining,
 *   reset_ms, retry_ms (0 when it admits). The refusing dimension (longest retry, first on ties)
 *   is picked in Node, as the engine does.
 *
 * SETTLE ARGV: now_override, request_id, mode (refund|actual|keep|rollback), actual_tokens,
 *   reserved_at (the decision's time), reserved_tokens, then the groups. Returns 1.
 */

/**
 * Pieces both scripts share, spliced into their text (one script source each, so each stays a
 * single EVALSHA): the locals, the time (Redis TIME or the test override), the bucket refill and
 * the state write.
 */
const PRELUDE = `
local tonumber, floor, ceil, byte, pack, unpack_s = tonumber, math.floor, math.ceil, string.byte, struct.pack, struct.unpack
local FW, SW, TB, GC, CC = 102, 115, 116, 103, 99
local INF = 1 / 0
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end
`;

/** A bucket of limit l, period p, stored as (t0 level, s0 timestamp; t0 = INF: full), refilled to now: lvl, ts. */
const TB_REFILL = `
  local lvl, ts = l, now
  if t0 ~= INF then
    local el = now - s0
    if el < 0 then el = 0 end
    lvl = t0 + (el * l) / p
    if lvl > l then lvl = l end
    if s0 > now then ts = s0 end
  end
`;

/**
 * Write the changed group fields (sets[1..ns]) of KEYS[1]; v[ng + 1] is the stored expiry `_e`.
 * The hash's life is never shortened: PEXPIRE only when it must live longer than that expiry.
 */
const SAVE_STATE = `
if ns > 0 then
  if keep < 1 then keep = 1 end
  local x = v[ng + 1]
  local extend = not x or unpack_s('<d', x) < now + keep
  if extend then sets[ns + 1] = '_e'; sets[ns + 2] = pack('<d', now + keep + 60000); ns = ns + 2 end
  redis.call('HSET', KEYS[1], unpack(sets, 1, ns))
  if extend then redis.call('PEXPIRE', KEYS[1], keep + 60000) end
end
`;

/**
 * The decision's per-member helpers, as Lua function expressions: the script assigns each to its
 * local only where it is needed (a refusal, or a group of that algorithm), so a call creates only
 * the closures it uses (each is an allocation on every call otherwise).
 */
// One member of a group: ok, remaining (after this request), reset, retry (0 when ok).
const SW_MEMBER = `function(l, cost, curr, prev, p, elapsed)
  local est = (prev * (p - elapsed)) / p + curr
  if est + cost <= l then
    local x = l - est - cost
    if x < 0 then x = 0 end
    local reset = 0
    if cost > 0 or curr > 0 then reset = ceil(p - elapsed + p) elseif prev > 0 then reset = ceil(p - elapsed) end
    return true, floor(x), reset, 0
  end
  local x = l - est
  if x < 0 then x = 0 end
  local need, rtry = l - cost, 0
  if need < 0 then rtry = p
  elseif curr <= need then rtry = ceil(p - ((need - curr) * p) / prev - elapsed)
  else rtry = ceil(p - elapsed + (p - (need * p) / curr)) end
  if rtry < 1 then rtry = 1 end
  local reset
  if curr > 0 then reset = ceil(p - elapsed + p) else reset = ceil(p - elapsed) end
  return false, floor(x), reset, rtry
end`;

const FW_MEMBER = `function(l, cost, count, p, ttl)
  if count + cost <= l then
    local x = l - count - cost
    if x < 0 then x = 0 end
    return true, floor(x), ttl, 0
  end
  local x = l - count
  if x < 0 then x = 0 end
  if cost > l then return false, floor(x), ttl, p end
  return false, floor(x), ttl, ttl
end`;

// token bucket: also the level after (before, when refused), its timestamp, and how long the state must live
const TB_MEMBER = `function(l, cost, t0, s0, p, sl)
${TB_REFILL}
  local ok, remaining, rtry, level = true, 0, 0, lvl
  if lvl >= cost then
    level = lvl - cost
    local x = level
    if x < 0 then x = 0 end
    remaining = floor(x)
  else
    ok = false
    local x = lvl
    if x < 0 then x = 0 end
    remaining = floor(x)
    if cost > l then rtry = p else rtry = ceil(((cost - lvl) * p) / l) end
    if rtry < 1 then rtry = 1 end
  end
  local reset, kp = ceil(((l - level) * p) / l), 0
  if level < l then
    local ttl = ceil(((l - level) * p) / l + (ts - now))
    if ttl < 1 then ttl = 1 end
    kp = ttl + sl
  end
  return ok, remaining, reset, rtry, level, ts, kp
end`;

// GCRA: also the TAT to store (0 = none) and how long the state must live
const GC_MEMBER = `function(l, cost, tat, p, sl)
  local interval = p / l
  local base = now
  if tat > now then base = tat end
  local new_tat = base + cost * interval
  local kp = ceil(base - now) + sl
  if new_tat - now <= p + p * 1e-9 then
    local ttl = ceil(new_tat - now)
    local x = (now + p - new_tat) / interval
    if x < 0 then x = 0 end
    if ttl + sl > kp then kp = ttl + sl end
    local keep_tat = 0
    if ttl > 0 then keep_tat = new_tat end
    return true, floor(x), ttl, 0, keep_tat, kp
  end
  local x = (now + p - base) / interval
  if x < 0 then x = 0 end
  local rtry
  if cost > l then rtry = p else rtry = ceil(new_tat - p - now) end
  if rtry < 1 then rtry = 1 end
  return false, floor(x), ceil(base - now), rtry, tat, kp
end`;

/** Reply formats by number of groups (status, now, 6 per group), as literals: no string built per call. */
const MAX_LITERAL_GROUPS = 8;
const REPLY_FORMAT = (() => {
  let lua = 'local fmt\n';
  for (let g = 1; g <= MAX_LITERAL_GROUPS; g++) lua += `${g === 1 ? 'if' : 'elseif'} ng == ${g} then fmt = '<${'d'.repeat(2 + 6 * g)}'\n`;
  return lua + `else fmt = '<' .. string.rep('d', 2 + 6 * ng) end\nreturn pack(fmt, unpack(out, 1, 2 + 6 * ng))\n`;
})();

export const DECIDE_LUA = `
${PRELUDE}
local tokens = tonumber(ARGV[3])
local sw_member, fw_member, tb_member, gc_member

local ng = (#ARGV - 3) / 4
-- sized for 5 groups (the most a request's limits make) so it is not grown member by member
local out = {1, now, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
local fields = {'_e', '_e', '_e', '_e', '_e', '_e', '_e', '_e', '_e'}
for g = 1, ng do fields[g] = ARGV[g * 4] end
fields[ng + 1] = '_e'
local v = redis.call('HMGET', KEYS[1], unpack(fields, 1, ng + 1))
local sets, ns, keep = {false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false}, 0, 0
local failed, slot = false, nil
local _
for g = 1, ng do
  local o = g * 4
  local f = ARGV[o]
  local alg = byte(f, 1)
  local lr, lt, p = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  local s = v[g]
  if s == '' then s = false end
  local b = 2 + (g - 1) * 6
  out[b + 1], out[b + 2], out[b + 3], out[b + 4], out[b + 5], out[b + 6] = 0, 0, 0, 0, 0, 0
  local sl = p
  if sl > 60000 then sl = 60000 end
  if alg == SW then
    local idx = floor(now / p)
    local cr, pr, ct, pt = -1, -1, -1, -1
    if s then
      local si, a1, a2, a3, a4 = unpack_s('<ddddd', s)
      if si == idx then cr, pr, ct, pt = a1, a2, a3, a4 elseif si == idx - 1 then pr, pt = a1, a3 end
    end
    local start = idx * p
    local elapsed = now - start
    local ttl = ceil(start + 2 * p - now) + sl
    if ttl > keep then keep = ttl end
    local nr, nt = cr, ct
    -- the admitting case inline (the common one); a refusal goes through sw_member
    if lr > 0 then
      local c, q = cr, pr
      if c < 0 then c = 0 end
      if q < 0 then q = 0 end
      local est = (q * (p - elapsed)) / p + c
      if est + 1 <= lr then
        out[b + 1], out[b + 2] = floor(lr - est - 1), ceil(p - elapsed + p)
      else
        if not sw_member then sw_member = ${SW_MEMBER} end
        _, out[b + 1], out[b + 2], out[b + 3] = sw_member(lr, 1, c, q, p, elapsed)
      end
      nr = c + 1
    end
    if lt > 0 then
      local c, q = ct, pt
      if c < 0 then c = 0 end
      if q < 0 then q = 0 end
      local est = (q * (p - elapsed)) / p + c
      if tokens > 0 and est + tokens <= lt then
        out[b + 4], out[b + 5] = floor(lt - est - tokens), ceil(p - elapsed + p)
      else
        if not sw_member then sw_member = ${SW_MEMBER} end
        _, out[b + 4], out[b + 5], out[b + 6] = sw_member(lt, tokens, c, q, p, elapsed)
      end
      if tokens ~= 0 then nt = c + tokens end
    end
    if nr ~= cr or nt ~= ct then sets[ns + 1] = f; sets[ns + 2] = pack('<ddddd', idx, nr, pr, nt, pt); ns = ns + 2 end
  elseif alg == FW then
    local idx = floor(now / p)
    local cr, ct = -1, -1
    if s then
      local si, a1, a2 = unpack_s('<ddd', s)
      if si == idx then cr, ct = a1, a2 end
    end
    local ttl = ceil((idx + 1) * p - now)
    if ttl + sl > keep then keep = ttl + sl end
    local nr, nt = cr, ct
    if lr > 0 then
      local c = cr
      if c < 0 then c = 0 end
      if c + 1 <= lr then
        out[b + 1], out[b + 2] = floor(lr - c - 1), ttl
      else
        if not fw_member then fw_member = ${FW_MEMBER} end
        _, out[b + 1], out[b + 2], out[b + 3] = fw_member(lr, 1, c, p, ttl)
      end
      nr = c + 1
    end
    if lt > 0 then
      local c = ct
      if c < 0 then c = 0 end
      if c + tokens <= lt then
        out[b + 4], out[b + 5] = floor(lt - c - tokens), ttl
      else
        if not fw_member then fw_member = ${FW_MEMBER} end
        _, out[b + 4], out[b + 5], out[b + 6] = fw_member(lt, tokens, c, p, ttl)
      end
      if tokens ~= 0 then nt = c + tokens end
    end
    if nr ~= cr or nt ~= ct then sets[ns + 1] = f; sets[ns + 2] = pack('<ddd', idx, nr, nt); ns = ns + 2 end
  elseif alg == TB then
    if not tb_member then tb_member = ${TB_MEMBER} end
    local r0, rs, t0, ts0 = INF, 0, INF, 0
    if s then r0, rs, t0, ts0 = unpack_s('<dddd', s) end
    local nr, nrs, nt, nts = r0, rs, t0, ts0
    if lr > 0 then
      local level, ts, kp
      _, out[b + 1], out[b + 2], out[b + 3], level, ts, kp = tb_member(lr, 1, r0, rs, p, sl)
      if kp > keep then keep = kp end
      if level >= lr then nr, nrs = INF, 0 else nr, nrs = level, ts end
    end
    if lt > 0 then
      local level, ts, kp
      _, out[b + 4], out[b + 5], out[b + 6], level, ts, kp = tb_member(lt, tokens, t0, ts0, p, sl)
      if kp > keep then keep = kp end
      if level >= lt then nt, nts = INF, 0 else nt, nts = level, ts end
    end
    sets[ns + 1] = f
    if nr == INF and nt == INF then sets[ns + 2] = '' else sets[ns + 2] = pack('<dddd', nr, nrs, nt, nts) end
    ns = ns + 2
  elseif alg == GC then
    if not gc_member then gc_member = ${GC_MEMBER} end
    local tr, tt = 0, 0
    if s then tr, tt = unpack_s('<dd', s) end
    local nr, nt = tr, tt
    if lr > 0 then
      local kp
      _, out[b + 1], out[b + 2], out[b + 3], nr, kp = gc_member(lr, 1, tr, p, sl)
      if kp > keep then keep = kp end
    end
    if lt > 0 then
      local kp
      _, out[b + 4], out[b + 5], out[b + 6], nt, kp = gc_member(lt, tokens, tt, p, sl)
      if kp > keep then keep = kp end
    end
    sets[ns + 1] = f
    if nr == 0 and nt == 0 then sets[ns + 2] = '' else sets[ns + 2] = pack('<dd', nr, nt) end
    ns = ns + 2
  elseif alg == CC then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    local inflight = redis.call('ZCARD', KEYS[2])
    if inflight + 1 <= lr then
      out[b + 1] = lr - inflight - 1
      slot = p
    else
      out[b + 3] = math.min(1000, p)
    end
  else
    return redis.error_reply('ERR unknown limit algorithm')
  end
  -- a refusing member is the one with a retry time
  if out[b + 3] > 0 or out[b + 6] > 0 then failed = true end
end
if failed then
  out[1] = 0
  -- nothing was debited: members that would have admitted report their level before it
  for g = 1, ng do
    local b = 2 + (g - 1) * 6
    if out[b + 3] == 0 and tonumber(ARGV[g * 4 + 1]) > 0 then out[b + 1] = out[b + 1] + 1 end
    if out[b + 6] == 0 and tonumber(ARGV[g * 4 + 2]) > 0 then out[b + 4] = out[b + 4] + tokens end
  end
else
${SAVE_STATE}
  if slot then
    redis.call('ZADD', KEYS[2], now + slot, ARGV[2])
    redis.call('PEXPIRE', KEYS[2], slot)
  end
end
${REPLY_FORMAT}`;

export const SETTLE_LUA = `
${PRELUDE}
local mode = ARGV[3]
local actual = tonumber(ARGV[4])
local t, reserved = tonumber(ARGV[5]), tonumber(ARGV[6])
-- what each member gives back or takes: requests only on a rollback, tokens by the settle rule
local dr, dt = 0, 0
if mode == 'rollback' then dr = -1 end
if mode == 'refund' or mode == 'rollback' then dt = -reserved elseif mode == 'actual' then dt = actual - reserved end

-- a window counter (-1 = none in that window, left alone), never below zero
local function adjust(count, delta)
  if count < 0 or delta == 0 then return count end
  count = count + delta
  if count < 0 then return 0 end
  return count
end

-- bucket level after giving back delta; new (level, ts) or INF when full; how long it must live
local function tb_adjust(l, t0, s0, delta, p, sl)
${TB_REFILL}
  local after = lvl - delta
  if after > l then after = l end
  if after >= l then return INF, 0, 0 end
  local ttl = ceil(((l - after) * p) / l + (ts - now))
  if ttl < 1 then ttl = 1 end
  return after, ts, ttl + sl
end

local function gc_adjust(l, tat, delta, p, sl)
  local interval = p / l
  local base = now
  if tat > now then base = tat end
  local nxt = base + delta * interval
  local ttl = ceil(nxt - now)
  if ttl > 0 then return nxt, ttl + sl end
  return 0, 0
end

local ng = (#ARGV - 6) / 4
local fields = {'_e', '_e', '_e', '_e', '_e', '_e', '_e', '_e', '_e'}
for g = 1, ng do fields[g] = ARGV[g * 4 + 3] end
fields[ng + 1] = '_e'
local v = redis.call('HMGET', KEYS[1], unpack(fields, 1, ng + 1))
local sets, ns, keep = {}, 0, 0
for g = 1, ng do
  local o = g * 4 + 3
  local f = ARGV[o]
  local alg = byte(f, 1)
  local lr, lt, p = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  local s = v[g]
  if s == '' then s = false end
  local sl = p
  if sl > 60000 then sl = 60000 end
  local er, et = 0, 0 -- this group's deltas (absent members: none)
  if lr > 0 then er = dr end
  if lt > 0 then et = dt end
  if alg == FW or alg == SW then
    -- only the window the reservation was debited in; over = nothing to do
    if (er ~= 0 or et ~= 0) and s then
      local tidx = floor(t / p)
      if alg == FW then
        local si, a1, a2 = unpack_s('<ddd', s)
        if si == tidx then sets[ns + 1] = f; sets[ns + 2] = pack('<ddd', si, adjust(a1, er), adjust(a2, et)); ns = ns + 2 end
      else
        local si, a1, a2, a3, a4 = unpack_s('<ddddd', s)
        if si == tidx then
          sets[ns + 1] = f; sets[ns + 2] = pack('<ddddd', si, adjust(a1, er), a2, adjust(a3, et), a4); ns = ns + 2
        elseif si == tidx + 1 then
          sets[ns + 1] = f; sets[ns + 2] = pack('<ddddd', si, a1, adjust(a2, er), a3, adjust(a4, et)); ns = ns + 2
        end
      end
    end
  elseif alg == TB then
    if er ~= 0 or et ~= 0 then
      local r0, rs, t0, ts0 = INF, 0, INF, 0
      if s then r0, rs, t0, ts0 = unpack_s('<dddd', s) end
      if er ~= 0 then
        local kp
        r0, rs, kp = tb_adjust(lr, r0, rs, er, p, sl)
        if kp > keep then keep = kp end
      end
      if et ~= 0 then
        local kp
        t0, ts0, kp = tb_adjust(lt, t0, ts0, et, p, sl)
        if kp > keep then keep = kp end
      end
      sets[ns + 1] = f
      if r0 == INF and t0 == INF then sets[ns + 2] = '' else sets[ns + 2] = pack('<dddd', r0, rs, t0, ts0) end
      ns = ns + 2
    end
  elseif alg == GC then
    if er ~= 0 or et ~= 0 then
      local tr, tt = 0, 0
      if s then tr, tt = unpack_s('<dd', s) end
      if er ~= 0 then
        local kp
        tr, kp = gc_adjust(lr, tr, er, p, sl)
        if kp > keep then keep = kp end
      end
      if et ~= 0 then
        local kp
        tt, kp = gc_adjust(lt, tt, et, p, sl)
        if kp > keep then keep = kp end
      end
      sets[ns + 1] = f
      if tr == 0 and tt == 0 then sets[ns + 2] = '' else sets[ns + 2] = pack('<dd', tr, tt) end
      ns = ns + 2
    end
  elseif alg == CC then
    redis.call('ZREM', KEYS[2], ARGV[2])
  end
end
${SAVE_STATE}
return 1
`;
