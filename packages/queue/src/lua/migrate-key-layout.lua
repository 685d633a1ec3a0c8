-- Moves one connector's keys from the layout before hash tags (`<prefix>:<connector>:…`) to the tagged one
-- (`{<prefix>:<connector>}:…`, keys.ts), and the connectors set of the prefix likewise, in one atomic step: no app
-- ever sees half of each. Standalone Redis only (the old layout never worked on a Cluster), so the keys found by
-- the SCAN are not declared. RENAMENX: a key already in the new layout is never overwritten (counted as kept).
-- ARGV[1] old base `<prefix>:<connector>`  ARGV[2] new base `{<prefix>:<connector>}`
-- ARGV[3] old connectors set  ARGV[4] new connectors set
-- Returns {moved, kept}.
local old, new = ARGV[1], ARGV[2]
local pattern = string.gsub(old, '([%*%?%[%]\\])', '\\%1') .. ':*'
local moved, kept = 0, 0
local cursor = '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    if redis.call('RENAMENX', k, new .. string.sub(k, #old + 1)) == 1 then moved = moved + 1 else kept = kept + 1 end
  end
until cursor == '0'
if redis.call('EXISTS', ARGV[3]) == 1 then
  redis.call('SUNIONSTORE', ARGV[4], ARGV[4], ARGV[3])
  redis.call('DEL', ARGV[3])
  moved = moved + 1
end
return {moved, kept}
