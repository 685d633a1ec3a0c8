-- Accounts a dead letter's size against the cap on the total bytes of a connector's dead letters.
-- KEYS[1] = the dead-letter meta hash; ARGV[1] = dead letter id, ARGV[2] = its size in bytes,
-- ARGV[3] = the cap (bytes; 0 = none), ARGV[4] = its kind (for the refusal counter).
-- The meta hash keeps `<id>:bytes` per dead letter and `bytes` (their sum). A letter that grows past the cap is
-- refused (0) and counted in `refused:<kind>`; a letter that does not grow (a new sighting) is always accepted (1).
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':bytes') or '0')
local size = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local total = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
if cap > 0 and size > old and total - old + size > cap then
  redis.call('HINCRBY', KEYS[1], 'refused:' .. ARGV[4], 1)
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1] .. ':bytes', size)
redis.call('HINCRBY', KEYS[1], 'bytes', size - old)
return 1
