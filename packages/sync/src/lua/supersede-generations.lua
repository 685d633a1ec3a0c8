-- A newer generation supersedes the sweeps of the older ones: once generation C has started, jobs of older
-- generations are refused, so an older generation's seen set may miss indicators whose jobs came too late, and
-- its sweep would remove (revoke) them only for C to create them again. `swept` is raised to C - 1 (those sweeps
-- are skipped; C's sweep removes whatever they would have), and the values older reads observed move to C's
-- observed set (dirtied after C's sweep).
-- KEYS[1] swept  KEYS[2] observed generations zset  KEYS[3] observed set of C
-- ARGV[1] C  ARGV[2] observed set prefix  ARGV[3] observed ids prefix
-- Undeclared keys: the observed sets and observed-ids hashes of the generations found in KEYS[2]
-- (`ARGV[2|3] .. G`); they share the connector's hash tag with KEYS, hence its slot (@octi-sekoia/queue keys.ts).
-- Returns {swept before, generations merged}.
local C = tonumber(ARGV[1])
local before = tonumber(redis.call('GET', KEYS[1]) or '0')
if before < C - 1 then redis.call('SET', KEYS[1], tostring(C - 1)) end
local merged = 0
for _, g in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])) do
  local set = ARGV[2] .. g
  if redis.call('EXISTS', set) == 1 then
    redis.call('SUNIONSTORE', KEYS[3], KEYS[3], set)
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
  end
  redis.call('DEL', set, ARGV[3] .. g)
  redis.call('ZREM', KEYS[2], g)
  merged = merged + 1
end
return {before, merged}
