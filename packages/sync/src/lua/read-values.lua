-- Reads, in one consistent snapshot, the desired and the applied state of each value.
-- The desired state is derived, not stored: live iff the value's index (the `i:<indicatorId>` fields of its value
-- hash) names a live indicator; attributes: the field set of the live indicator whose latest event is last in
-- stream order (max (generation, eventId), ties by id).
-- KEYS[1] field sets hash  KEYS[1 + n] value hash of value n
-- ARGV[1] indicator prefix  ARGV[1 + n] value n
-- Undeclared keys: the indicator records (`ARGV[1] .. id`, JSON [g, e, live, vals, fs, stix], see
-- record-desired.lua), found in the value hashes; they share the connector's key prefix with KEYS
-- (@octi-sekoia/queue keys.ts).
-- Returns per value {value, winnerId, winnerGen, winnerEvent, field set JSON, liveCount, {applied hash flat}}:
-- the applied hash without its index fields.

local function cmpint(a, b)
  a = string.gsub(a, '^0+', '')
  b = string.gsub(b, '^0+', '')
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end

local function cmpfence(g1, e1, g2, e2)
  local c = cmpint(g1, g2)
  if c ~= 0 then return c end
  local m1, s1 = string.match(e1, '^(%d+)-(%d+)')
  local m2, s2 = string.match(e2, '^(%d+)-(%d+)')
  c = cmpint(m1, m2)
  if c ~= 0 then return c end
  return cmpint(s1, s2)
end

local out = {}
for n = 1, #KEYS - 1 do
  local v = ARGV[n + 1]
  local flat = redis.call('HGETALL', KEYS[n + 1])
  local applied = {}
  local bestId, bestG, bestE, bestRef = false, false, false, false
  local count = 0
  for k = 1, #flat, 2 do
    local f = flat[k]
    if string.sub(f, 1, 2) == 'i:' then
      local m = string.sub(f, 3)
      local raw = redis.call('GET', ARGV[1] .. m)
      local h = raw and cjson.decode(raw) or {}
      if h[1] and h[3] == 1 then
        count = count + 1
        local c = bestId and cmpfence(h[1], h[2], bestG, bestE) or 1
        if c > 0 or (c == 0 and m > bestId) then
          bestId, bestG, bestE, bestRef = m, h[1], h[2], h[5]
        end
      end
    else
      applied[#applied + 1] = f
      applied[#applied + 1] = flat[k + 1]
    end
  end
  local fields = ''
  if bestRef then
    -- '<count> <JSON>' (record-desired.lua)
    fields = string.match(redis.call('HGET', KEYS[1], bestRef) or '', '^%d+ (.*)$') or ''
  end
  out[#out + 1] = {v, bestId or '', bestG or '', bestE or '', fields, count, applied}
end
return out
