-- The tombstone prune's lease: one run per connector at a time (packages/sync state.ts pruneTombstones).
-- KEYS[1] lease  KEYS[2] resume cursor (JSON [score, id])  ARGV[1] 'take' | 'release'  ARGV[2] token  ARGV[3] TTL ms
-- take: {1, cursor or ''} when the lease was free (now ours, PX ARGV[3]), {0} when another run holds it.
-- release: deletes the lease only while it is ours (its token); returns 1 then, else 0.
if ARGV[1] == 'take' then
  if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return {0} end
  return {1, redis.call('GET', KEYS[2]) or ''}
end
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
