-- Renews the reader lease only if we still hold it (KEYS[1] = lease key, ARGV[1] = our token, ARGV[2] = ttl ms).
-- Returns 1 when renewed, 0 when another replica holds it (or it expired and was taken).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
