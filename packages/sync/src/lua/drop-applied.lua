-- Forgets the applied state and the desired version of each value (another collection is adopted, see
-- collection-reads.ts dropAppliedState), keeping its index: every field of the value hash but the `i:<indicatorId>` ones.
-- A value left with no field is gone (Redis deletes an empty hash).
-- KEYS[1..] value hashes
-- Returns how many value hashes held an applied record.
local dropped = 0
for _, key in ipairs(KEYS) do
  local doomed = {}
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, 2) ~= 'i:' then doomed[#doomed + 1] = f end
  end
  if #doomed > 0 then
    redis.call('HDEL', key, unpack(doomed))
    dropped = dropped + 1
  end
end
return dropped
