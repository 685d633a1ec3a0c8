-- Renews the locks of a claim that are still ours, and keeps those values hidden from other claimers.
-- KEYS[1] dirty zset  KEYS[n + 1] lock of value n
-- ARGV[1] token  ARGV[2] lock TTL ms  ARGV[3] now ms  ARGV[n + 3] value n
-- Returns the values still held.
local held = {}
for n = 1, #KEYS - 1 do
  local v = ARGV[n + 3]
  local key = KEYS[n + 1]
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[3]) + tonumber(ARGV[2]), v)
    held[#held + 1] = v
  end
end
return held
