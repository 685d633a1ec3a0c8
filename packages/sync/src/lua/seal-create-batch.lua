-- Seals one group's shared create batch: its oldest values (at most ARGV[2]) leave the group in one step, so the
-- caller — which holds a budget token — is their one sender. Not full and its oldest value offered less than the
-- linger time ago: nothing is taken, the caller waits that long (the batch keeps filling meanwhile).
-- KEYS[1] groups zset  KEYS[2] the group's ready zset  KEYS[3] the group's items hash
-- ARGV[1] group id  ARGV[2] max values  ARGV[3] now ms  ARGV[4] linger ms (0: take whatever is there)
-- Returns {} (the group is empty), {'wait', ms} or {'sealed', value1, item1, value2, item2, …}.
local n = redis.call('ZCARD', KEYS[2])
if n == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[3])
  return {}
end
local max = tonumber(ARGV[2])
if n < max then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local age = tonumber(ARGV[3]) - tonumber(oldest[2])
  local linger = tonumber(ARGV[4])
  if age < linger then return { 'wait', tostring(math.ceil(linger - age)) } end
end
local values = redis.call('ZRANGE', KEYS[2], 0, max - 1)
local items = redis.call('HMGET', KEYS[3], unpack(values))
redis.call('ZREM', KEYS[2], unpack(values))
redis.call('HDEL', KEYS[3], unpack(values))
local left = n - #values
if left > 0 then
  redis.call('ZADD', KEYS[1], left, ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[3])
end
local out = { 'sealed' }
for i, v in ipairs(values) do
  if items[i] then
    out[#out + 1] = v
    out[#out + 1] = items[i]
  end
end
return out
