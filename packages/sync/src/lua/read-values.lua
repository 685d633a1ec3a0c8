-- Reads, in one consistent snapshot, the desired and the applied state of each value.
-- The desired state is derived, not stored: live iff the value's index set is non-empty; attributes of the
-- live indicator whose latest event is last in stream order (max (generation, eventId), ties by id).
-- KEYS[2n-1] index set of value n  KEYS[2n] value hash of value n
-- ARGV[1] indicator prefix  ARGV[2..] values (value n is ARGV[n + 1])
-- Undeclared keys: the indicator hashes, found in the index sets (`ARGV[1] .. id`), so they cannot be declared;
-- they share the connector's hash tag with every declared key, hence its slot (@octi-sekoia/queue keys.ts).
-- Returns per value {value, winnerId, winnerGen, winnerEvent, attrs, fp, liveCount, {applied hash flat}}.

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
for n = 1, #KEYS / 2 do
  local v = ARGV[n + 1]
  local members = redis.call('SMEMBERS', KEYS[2 * n - 1])
  local bestId, bestG, bestE = false, false, false
  local count = 0
  for _, m in ipairs(members) do
    local h = redis.call('HMGET', ARGV[1] .. m, 'g', 'e', 'live')
    if h[1] and h[3] == '1' then
      count = count + 1
      local c = bestId and cmpfence(h[1], h[2], bestG, bestE) or 1
      if c > 0 or (c == 0 and m > bestId) then
        bestId, bestG, bestE = m, h[1], h[2]
      end
    end
  end
  local attrs, fp = '', ''
  if bestId then
    local a = redis.call('HMGET', ARGV[1] .. bestId, 'attrs', 'fp')
    attrs, fp = a[1] or '', a[2] or ''
  end
  out[#out + 1] = {v, bestId or '', bestG or '', bestE or '', attrs, fp, count, redis.call('HGETALL', KEYS[2 * n])}
end
return out
