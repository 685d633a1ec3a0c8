-- Moves up to ARGV[2] values of an observed set (a collection read of generation G, once G is swept) into the
-- dirty set, due now: leftovers no live indicator wants are then revoked, duplicates and wrong attributes fixed.
-- KEYS[1] observed set of G  KEYS[2] dirty zset  KEYS[3] observed generations zset  KEYS[4] observed ids of G
-- ARGV[1] now ms  ARGV[2] how many  ARGV[3] G
-- Returns how many were moved (0 once the set is empty, which also drops G from the generations).
local values = redis.call('SPOP', KEYS[1], tonumber(ARGV[2]))
for _, v in ipairs(values) do redis.call('ZADD', KEYS[2], 'LT', ARGV[1], v) end
if #values == 0 then
  redis.call('ZREM', KEYS[3], ARGV[3])
  redis.call('DEL', KEYS[4])
end
return #values
