-- The collection-read lock, held by one reader (worker or CLI) at a time: renew or release it only while it is
-- ours (its token).
-- KEYS[1] lock  ARGV[1] 'renew' | 'release'  ARGV[2] token  ARGV[3] TTL ms (renew)
-- Returns 1 when the lock was ours, else 0.
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
if ARGV[1] == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
