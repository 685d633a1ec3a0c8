-- After the pages of a collection read of G are recorded: the values a write changed during the read (the set
-- record-applied.lua fills while it exists) may have been recorded from a page fetched before that write, so the
-- read's snapshot could describe them older than they are. Each one the read observed is marked unsure (searched
-- exactly before anything is decided for it) and made due. Takes up to ARGV[3] values per call; once only the
-- set's start marker is left, deletes the set in the same step (a write recorded later finds no set: it came
-- after every page was recorded, so its record is the newer one).
-- KEYS[1] touched set  KEYS[2] dirty zset  KEYS[3] observed ids of G (hash value → ids)
-- Undeclared keys: the value hashes, ARGV[4] .. value (same hash tag as KEYS).
-- ARGV[1] now ms  ARGV[2] start marker member  ARGV[3] chunk  ARGV[4] value hash prefix
-- Returns {values marked, 1 when the set is gone}.
local marked = 0
local members = redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))
for _, v in ipairs(members) do
  if v ~= ARGV[2] and redis.call('HEXISTS', KEYS[3], v) == 1 then
    redis.call('HSETNX', ARGV[4] .. v, 'unsure', '?')
    redis.call('ZADD', KEYS[2], ARGV[1], v)
    marked = marked + 1
  end
end
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1])
  return {marked, 1}
end
-- The start marker was popped with others: put it back so the set keeps existing until it is drained.
redis.call('SADD', KEYS[1], ARGV[2])
if redis.call('SCARD', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[1])
  return {marked, 1}
end
return {marked, 0}
