-- Offers values whose create is decided to their field group's shared batch (packages/sync/src/shared-batch.ts):
-- whichever worker holds a budget token next seals the fullest group. A value offered again (by a later claim,
-- after a lost lock) keeps its place in the queue; its item is replaced by the new claim's.
-- KEYS[1] groups zset  KEYS[2] the group's ready zset  KEYS[3] the group's items hash
-- ARGV[1] group id  ARGV[2] now ms  ARGV[3..] pairs (value, item JSON)
-- Returns the number of values ready in the group.
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[i])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
local n = redis.call('ZCARD', KEYS[2])
redis.call('ZADD', KEYS[1], n, ARGV[1])
return n
