-- Renews the locks of a claim that are still ours, and keeps those values hidden from other claimers.
-- KEYS[1] dirty zset  ARGV[1] token  ARGV[2] lock TTL ms  ARGV[3] now ms  ARGV[4] lock prefix  ARGV[5..] values
-- Returns the values still held.
local held = {}
for i = 5, #ARGV do
  local v = ARGV[i]
  local key = ARGV[4] .. v
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[3]) + tonumber(ARGV[2]), v)
    held[#held + 1] = v
  end
end
return held
