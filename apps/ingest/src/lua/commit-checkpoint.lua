-- Stores the checkpoint only while we hold the reader lease: a replica that lost the lease (paused, partitioned)
-- must never move the checkpoint of the replica that took over. It also refuses a checkpoint whose generation is
-- not the counter's (the only source of truth, see start-generation.lua): that reading's jobs are refused as stale,
-- so the reader must start a generation again instead of going on. And it refuses to move on when the write mark is
-- not the one the reader got after its last batch: Redis lost writes it had acknowledged (a failover to a replica
-- that had not received them, a restart from an older snapshot), so the jobs of events read since the stored
-- checkpoint may be gone, and the reader must read again from the stored checkpoint (docs/redis.md).
-- KEYS[1] = lease key, KEYS[2] = checkpoint key, KEYS[3] = generation counter, KEYS[4] = write mark;
-- ARGV[1] = token, ARGV[2] = checkpoint JSON, ARGV[3] = the checkpoint's generation, ARGV[4] = the write mark the
-- reader last got ('' = none yet: nothing to check).
-- Returns 1 stored, 0 lease not ours, {-1, counter} generation differs, {-2, stored checkpoint JSON or ''} writes lost.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[4] then
  return {-2, redis.call('GET', KEYS[2]) or ''}
end
local counter = redis.call('GET', KEYS[3]) or '0'
if counter ~= ARGV[3] then
  return {-1, counter}
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
