-- Forgets a dead letter's bookkeeping once it is removed or sent back: its sighting count, first-seen time and
-- size, which leaves the total of the connector's dead letters.
-- KEYS[1] = the dead-letter meta hash; ARGV[1] = dead letter id.
local size = tonumber(redis.call('HGET', KEYS[1], ARGV[1] .. ':bytes') or '0')
if size > 0 then
  redis.call('HINCRBY', KEYS[1], 'bytes', -size)
end
redis.call('HDEL', KEYS[1], ARGV[1] .. ':n', ARGV[1] .. ':first', ARGV[1] .. ':bytes')
return size
