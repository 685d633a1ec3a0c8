-- Stores the checkpoint only while we hold the reader lease: a replica that lost the lease (paused, partitioned)
-- must never move the checkpoint of the replica that took over. It also refuses a checkpoint whose generation is
-- not the counter's (the only source of truth, see start-generation.lua): that reading's jobs are refused as stale,
-- so the reader must start a generation again instead of going on.
-- KEYS[1] = lease key, KEYS[2] = checkpoint key, KEYS[3] = generation counter;
-- ARGV[1] = token, ARGV[2] = checkpoint JSON, ARGV[3] = the checkpoint's generation.
-- Returns 1 stored, 0 lease not ours, {-1, counter} generation differs.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local counter = redis.call('GET', KEYS[3]) or '0'
if counter ~= ARGV[3] then
  return {-1, counter}
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
