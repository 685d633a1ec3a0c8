-- Reads, in one consistent snapshot, the desired and the applied state of each value.
-- The desired state is derived, not stored: live iff the value's index (the `i:<indicatorId>` fields of its value
-- hash) names a live indicator; attributes: the field set of the live indicator whose latest event is last in
-- stream order: max eventId, ties by indicator id. The generation is not compared: a re-read (generation G+1)
-- gives an unchanged indicator the same event id (recovery ids are the entity's updated_at), so the winner among a
-- value's holders does not flip while some are re-read and others not yet (comparing (generation, eventId) made
-- every re-read holder win in turn: edits back and forth).
-- "Recovering": the current generation is not swept yet, so its recovery may still bring (or its sweep remove)
-- holders of a live value and change its winner; "stale holders": some live holder is not re-read in it yet.
-- KEYS[1] generation (current)  KEYS[2] swept (highest generation swept)
-- KEYS[3] field sets hash (ref -> '<count> <JSON>', record-desired.lua)  KEYS[3 + n] value hash of value n
-- ARGV[1] indicator prefix  ARGV[1 + n] value n
-- Undeclared keys: the indicator records (`ARGV[1] .. id`, JSON [g, e, live, vals, fs, stix, validFrom], see
-- record-desired.lua), found in the value hashes, so they cannot be declared; they share the connector's hash tag
-- with every declared key, hence its slot (@octi-sekoia/queue keys.ts).
-- Returns per value {value, winnerId, maxGen, winnerEvent, field set JSON, liveCount, {applied hash flat},
-- recovering, staleHolders, winner's validFrom element (record-desired.lua: epoch ms or a string; '' when its
-- record has none)} (maxGen: the highest generation among the live holders; the applied hash without its
-- index fields; recovering: the current generation while it is not swept and the value is live, else 0;
-- staleHolders: 1 when recovering and a live holder was last recorded in an older generation).

--- @include "includes/fence"

local current = redis.call('GET', KEYS[1]) or '0'
local swept = redis.call('GET', KEYS[2]) or '0'
local recovering = cmpint(swept, current) < 0 and tonumber(current) or 0

local out = {}
for n = 1, #KEYS - 3 do
  local v = ARGV[n + 1]
  local flat = redis.call('HGETALL', KEYS[n + 3])
  local applied = {}
  local bestId, bestE, bestRef, bestVf, maxG = false, false, false, '', false
  local count, stale = 0, 0
  for k = 1, #flat, 2 do
    local f = flat[k]
    if string.sub(f, 1, 2) == 'i:' then
      local m = string.sub(f, 3)
      local raw = redis.call('GET', ARGV[1] .. m)
      local h = raw and cjson.decode(raw) or {}
      if h[1] and h[3] == 1 then
        count = count + 1
        local c = bestId and cmpevent(h[2], bestE) or 1
        if c > 0 or (c == 0 and m > bestId) then
          bestId, bestE, bestRef, bestVf = m, h[2], h[5], h[7] or ''
        end
        if not maxG or cmpint(h[1], maxG) > 0 then maxG = h[1] end
        if recovering > 0 and cmpint(h[1], current) < 0 then stale = 1 end
      end
    else
      applied[#applied + 1] = f
      applied[#applied + 1] = flat[k + 1]
    end
  end
  local fields = ''
  if bestRef then
    -- '<count> <JSON>' (record-desired.lua)
    fields = string.match(redis.call('HGET', KEYS[3], bestRef) or '', '^%d+ (.*)$') or ''
  end
  out[#out + 1] = {v, bestId or '', maxG or '', bestE or '', fields, count, applied, count > 0 and recovering or 0, stale, bestVf}
end
return out
