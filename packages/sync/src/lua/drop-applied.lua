-- Forgets what was known of a Sekoia collection (another collection is being adopted): every field of the value
-- records but the desired version `ver` (ids, generation confirmed, rejection, unsure, failures, intents).
-- KEYS: value records (a SCAN chunk)
-- Returns how many records held applied state.
local n = 0
for _, key in ipairs(KEYS) do
  local fields = redis.call('HKEYS', key)
  local dropped = false
  for _, f in ipairs(fields) do
    if f ~= 'ver' then
      redis.call('HDEL', key, f)
      dropped = true
    end
  end
  if dropped then n = n + 1 end
end
return n
