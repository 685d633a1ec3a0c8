-- Reads, in one consistent snapshot, the desired and the applied state of each value.
-- The desired state is derived, not stored: live iff the value's index set is non-empty; attributes of the
-- live indicator whose latest event is last in stream order (max (generation, eventId), ties by id).
-- ARGV[1] index prefix  ARGV[2] value prefix  ARGV[3] indicator prefix  ARGV[4..] values
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
for i = 4, #ARGV do
  local v = ARGV[i]
  local members = redis.call('SMEMBERS', ARGV[1] .. v)
  local bestId, bestG, bestE = false, false, false
  local count = 0
  for _, m in ipairs(members) do
    local h = redis.call('HMGET', ARGV[3] .. m, 'g', 'e', 'live')
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
    local a = redis.call('HMGET', ARGV[3] .. bestId, 'attrs', 'fp')
    attrs, fp = a[1] or '', a[2] or ''
  end
  out[#out + 1] = {v, bestId or '', bestG or '', bestE or '', attrs, fp, count, redis.call('HGETALL', ARGV[2] .. v)}
end
return out
