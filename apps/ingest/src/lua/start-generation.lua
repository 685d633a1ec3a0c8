-- Starts a generation: the one place that moves the generation counter, and it moves it together with the
-- checkpoint that stamps jobs with it and the reset marker it answers, only while we hold the reader lease. A
-- replica that stalled past its lease (GC pause, throttled CPU, Redis unreachable from it alone) can therefore
-- never bump the generation behind the replica that took over (whose jobs would all be refused as stale).
-- The counter is the only source of truth for the current generation: the checkpoint's `generation` is the
-- generation of the reading, written here from the counter and checked against it by commit-checkpoint.lua.
--
-- KEYS[1] lease  KEYS[2] generation counter  KEYS[3] checkpoint  KEYS[4] reset-seen marker
-- ARGV[1] lease token  ARGV[2] 'next' (counter + 1) | 'first' (first run: the counter if set, else + 1)
-- ARGV[3] start_from  ARGV[4] recover_until ISO date ('' = none)  ARGV[5] sweep afterId ('' = no sweep)
-- Returns the checkpoint JSON stored, or false when the lease is not ours.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
local generation
if ARGV[2] == 'first' then
  generation = tonumber(redis.call('GET', KEYS[2]) or '0')
  if generation == nil or generation < 1 then generation = redis.call('INCR', KEYS[2]) end
else
  generation = redis.call('INCR', KEYS[2])
end
local checkpoint = {
  start_from = ARGV[3],
  recover_until = ARGV[4] ~= '' and ARGV[4] or cjson.null,
  generation = generation,
  sweep = ARGV[5] ~= '' and { generation = generation, afterId = ARGV[5] } or cjson.null,
}
local json = cjson.encode(checkpoint)
redis.call('SET', KEYS[3], json)
redis.call('DEL', KEYS[4])
return json
