-- Mark and sweep of a generation: removes each listed live indicator that was not seen in generation G (its
-- fence generation is below G: every applied event of G raised it to G), as a remove job at fence (G, 0-0) would
-- — any event of G for it (seen later, or replayed) still wins — but without a tombstone: its record goes. While
-- the generation counter holds G or more, record-desired.lua refuses every job of a generation below G
-- (stale-generation) and no event of G is older than (G, 0-0): no fence is needed. For the same reason the
-- tombstones of generations below G that the SCAN meets are deleted: their fence only ever refused jobs of their
-- own generation, which the generation check refuses now. So tombstones last at most until the next
-- generation's sweep (docs/redis.md, "Key families"). With the counter below G (it was lost in a failover, or
-- never set), nothing refuses older jobs: the sweep writes tombstones (TTL ARGV[2]) and deletes none.
-- An indicator named in the exempt set (by internal or STIX id) is kept: its last event of G could not be applied
-- (a job that failed for good, a malformed event), so not being seen in G says nothing about it.
-- KEYS[1] dirty zset  KEYS[2] live count  KEYS[3] version seq  KEYS[4] stats hash  KEYS[5] exempt set
-- KEYS[6] field sets hash (counted in place, see record-desired.lua)  KEYS[7] generation counter
-- KEYS[8] tombstone index (record-desired.lua, prune-tombstones.lua): the tombstones it writes or deletes
-- ARGV[1] G  ARGV[2] tombstone TTL ms  ARGV[3] now ms  ARGV[4] indicator prefix  ARGV[5] value prefix
-- ARGV[6..] indicator ids (a chunk of a SCAN of the indicator records: repeats are skipped)
-- Undeclared keys: the indicator records (`ARGV[4] .. id`) and the value hashes of the values found in them
-- (`ARGV[5] .. value`); they share the connector's hash tag with KEYS, hence its slot (@octi-sekoia/queue
-- keys.ts).
-- Returns {removed, dirtied, {ids kept because exempt}}.
--- @include "includes/fence"
--- @include "includes/field-sets"

local G, now = ARGV[1], tonumber(ARGV[3])
local guarded = cmpint(redis.call('GET', KEYS[7]) or '0', G) >= 0
local removed, dirtied, kept = 0, 0, {}
local version = false
for i = 6, #ARGV do
  local id = ARGV[i]
  local key = ARGV[4] .. id
  -- The record (record-desired.lua): {g, e, live, vals, fs, stix, validFrom}; its stix as the exempt set also
  -- holds it (sweep.ts).
  local raw = redis.call('GET', key)
  local h = raw and cjson.decode(raw) or {}
  local unseen = h[1] and h[3] == 1 and cmpint(h[1], G) < 0
  local exempt = unseen
    and (redis.call('SISMEMBER', KEYS[5], id) == 1 or (h[6] ~= '' and redis.call('SISMEMBER', KEYS[5], h[6]) == 1))
  if exempt then
    kept[#kept + 1] = id
  elseif unseen then
    if not version then version = redis.call('INCR', KEYS[3]) end
    for _, v in ipairs(h[4]) do
      redis.call('HDEL', ARGV[5] .. v, 'i:' .. id)
      redis.call('ZADD', KEYS[1], 'LT', now, v)
      redis.call('HSET', ARGV[5] .. v, 'ver', version)
      redis.call('PERSIST', ARGV[5] .. v)
      dirtied = dirtied + 1
    end
    if h[5] ~= '' then dropRef(KEYS[6], h[5]) end
    if guarded then
      redis.call('DEL', key)
    else
      redis.call('SET', key, '[' .. cjson.encode(G) .. ',"0-0",0,[],"",' .. cjson.encode(h[6]) .. ']', 'PX', ARGV[2])
      redis.call('ZADD', KEYS[8], 0, id)
    end
    removed = removed + 1
  elseif guarded and h[1] and h[3] == 0 and cmpint(h[1], G) < 0 then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[8], id)
  end
end
if removed > 0 then
  redis.call('HINCRBY', KEYS[4], 'swept', removed)
  redis.call('DECRBY', KEYS[2], removed)
end
return {removed, dirtied, kept}
