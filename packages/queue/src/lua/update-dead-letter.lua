-- Updates an existing dead letter (a BullMQ job hash in the dead-letters queue) with a newer sighting.
-- KEYS[1] = the BullMQ job hash; ARGV[1] = attempts count from the atomic per-subject counter,
-- ARGV[2] = the complete new data JSON (built by the caller with those attempts).
-- The counter makes writers comparable: the sighting with the highest count wins, whatever the order in which
-- concurrent writers arrive, so attempts never go backwards. Returns 0 when the job does not exist (yet).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local current = redis.call('HGET', KEYS[1], 'data')
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded['attempts']) and tonumber(decoded['attempts']) > tonumber(ARGV[1]) then
    return 1
  end
end
redis.call('HSET', KEYS[1], 'data', ARGV[2])
return 1
