-- Records one page of a collection read (adoption, or the read at the start of generation G) into the applied
-- state, without ever making it describe Sekoia wrongly, even while workers write (the page was read before
-- this script runs, so it may be older than the applied record):
-- * no applied record for the value at all (its value hash holds no field but the index's `i:` ones): nothing
--   of ours wrote it within the retention, and nothing can have since the page was read (any write leaves a
--   record) → the live ids observed are recorded as they are, confirmed in G (a first start, a new collection:
--   every value is in this case);
-- * a record whose ids are exactly the live ids observed, with no write in flight and nothing unsure → it is
--   confirmed in G (no verify search needed); an id whose attributes differ from what we last wrote takes the
--   observed fingerprint (so an edit follows when they are not the desired ones). Sekoia giving a value its
--   default validity when we sent none is not a difference;
-- * anything else (ids differ: changed behind our back, or by a write of ours racing the read; a write in
--   flight) → `unsure`: the value is searched exactly before anything is decided for it.
-- A value seen again on a later page (Sekoia lists a duplicate where it was created): its new ids are added only
-- if the record still holds exactly the ids this generation's reads observed before (else `unsure`).
-- Every observed value joins the observed set of G, dirtied once G is swept (leftovers no indicator wants are
-- then revoked). Revoked items are not passed in.
-- KEYS[1] observed set of G  KEYS[2] observed generations zset  KEYS[3] observed ids of G (hash value → ids)
-- KEYS[3 + k] value hash of the k-th value of ARGV (every key it touches)
-- ARGV[1] G  ARGV[2..] per value: value, n, then n × (id, fp, fp without valid_until)
-- Returns {trusted, confirmed, refreshed, unsure}.
--- @include "includes/fence"

local G = ARGV[1]
local trusted, confirmed, refreshed, unsure = 0, 0, 0, 0

local function split(s)
  local t, n = {}, 0
  for id in string.gmatch(s, '[^ ]+') do
    if not t[id] then n = n + 1 end
    t[id] = true
  end
  return t, n
end

local function join(t)
  local out = {}
  for id in pairs(t) do out[#out + 1] = id end
  table.sort(out)
  return table.concat(out, ' ')
end

local i, k = 2, 0
while i <= #ARGV do
  k = k + 1
  local v, n = ARGV[i], tonumber(ARGV[i + 1])
  i = i + 2
  local seen, nseen = {}, 0
  for _ = 1, n do
    local id = ARGV[i]
    if not seen[id] then nseen = nseen + 1 end
    seen[id] = {ARGV[i + 1], ARGV[i + 2]}
    i = i + 3
  end
  local key = KEYS[3 + k]
  local priorRaw = redis.call('HGET', KEYS[3], v)
  local observed = {}
  if priorRaw then observed = split(priorRaw) end
  for id in pairs(seen) do observed[id] = true end

  local h = redis.call('HGETALL', key)
  local recorded = false
  for k = 1, #h, 2 do
    if string.sub(h[k], 1, 2) ~= 'i:' then
      recorded = true
      break
    end
  end
  if not recorded then
    for id, f in pairs(seen) do redis.call('HSET', key, 'id:' .. id, f[1]) end
    redis.call('HSET', key, 'gen', G)
    trusted = trusted + 1
  else
    local ids, nids, busy, isUnsure, gen = {}, 0, false, false, '0'
    for k = 1, #h, 2 do
      local f = h[k]
      if string.sub(f, 1, 3) == 'id:' then
        ids[string.sub(f, 4)] = h[k + 1]
        nids = nids + 1
      elseif string.sub(f, 1, 4) == 'int:' then
        busy = true
      elseif f == 'unsure' then
        isUnsure = true
      elseif f == 'gen' then
        gen = h[k + 1]
      end
    end
    -- What the record must hold for the observation to be trusted: the ids seen so far by this generation's
    -- reads (earlier pages included), or, on first sight, exactly the ids of this page.
    local expect, nexpect
    if priorRaw then expect, nexpect = split(priorRaw) else expect, nexpect = seen, nseen end
    local same = (not busy) and (not isUnsure) and nids > 0 and nids == nexpect
    if same then
      for id in pairs(expect) do
        if ids[id] == nil then same = false end
      end
    end
    if same then
      for id, f in pairs(seen) do
        local mine = ids[id]
        if mine == nil then
          redis.call('HSET', key, 'id:' .. id, f[1])
        elseif mine ~= f[1] and mine ~= f[2] then
          redis.call('HSET', key, 'id:' .. id, f[1])
          refreshed = refreshed + 1
        end
      end
      if cmpint(gen, G) < 0 then redis.call('HSET', key, 'gen', G) end
      if not priorRaw then confirmed = confirmed + 1 end
    else
      if not isUnsure then redis.call('HSET', key, 'unsure', '?') end
      unsure = unsure + 1
    end
  end
  -- A record about to expire (nothing wanted the value) must live until the sweep has dirtied it.
  redis.call('PERSIST', key)
  redis.call('SADD', KEYS[1], v)
  redis.call('HSET', KEYS[3], v, join(observed))
end
redis.call('ZADD', KEYS[2], G, G)
return {trusted, confirmed, refreshed, unsure}
