-- Takes values back out of their group's shared create batch, only those still offered by the caller's claim
-- (their item carries its token): a value already sealed is another sender's, whose answer the caller awaits.
-- KEYS[1] groups zset  KEYS[2] the group's ready zset  KEYS[3] the group's items hash
-- ARGV[1] group id  ARGV[2] claim token  ARGV[3..] values
-- Returns the values taken back.
local out = {}
for i = 3, #ARGV do
  local item = redis.call('HGET', KEYS[3], ARGV[i])
  if item and cjson.decode(item)[1] == ARGV[2] then
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
    out[#out + 1] = ARGV[i]
  end
end
local n = redis.call('ZCARD', KEYS[2])
if n > 0 then redis.call('ZADD', KEYS[1], n, ARGV[1]) else redis.call('ZREM', KEYS[1], ARGV[1]) end
return out
