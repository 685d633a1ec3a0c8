-- Stores the checkpoint only while we hold the reader lease: a replica that lost the lease (paused, partitioned)
-- must never move the checkpoint of the replica that took over.
-- KEYS[1] = lease key, KEYS[2] = checkpoint key; ARGV[1] = token, ARGV[2] = checkpoint JSON.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
