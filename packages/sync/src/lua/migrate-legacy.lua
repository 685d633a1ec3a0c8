-- Moves sync state of layout 1 to layout 2 (packages/sync/README.md "Older deployments"), one chunk of keys
-- found by SCAN, each key at most once whatever runs it concurrently (a key already moved is left alone):
-- * mode 'index': each index set `idx:<value>` becomes the `i:<indicatorId>` fields of the value's hash, and goes;
-- * mode 'indicator': an indicator hash {g, e, live, vals, attrs, fp, stix} becomes the record string of
--   record-desired.lua (its TTL kept: a tombstone's), its inline `attrs` its validFrom and a reference to its
--   field set, stored once and counted (`fp` goes: computed on read), but only while the hash still holds
--   exactly the `attrs` text the caller computed them from ('' for none).
-- * mode 'live' (last): the set of live indicator ids becomes their count, added to the count new code keeps.
-- mode 'index':     KEYS[2n-1] index set n  KEYS[2n] value hash n;  ARGV[1] 'index'
-- mode 'indicator': KEYS[1] field sets hash (counted in place, see record-desired.lua)  KEYS[1 + n] indicator key n;
--                   ARGV[1] 'indicator'  ARGV[4n-2..4n+1] per indicator n: attrs text, field set ref, field set
--                   JSON, validFrom element (value-state.ts validFromElement)
-- mode 'live':      KEYS[1] live set  KEYS[2] live count;  ARGV[1] 'live'
-- Returns how many keys were moved.
--- @include "includes/field-sets"

local moved = 0
if ARGV[1] == 'index' then
  for n = 1, #KEYS / 2 do
    local members = redis.call('SMEMBERS', KEYS[2 * n - 1])
    if #members > 0 then
      for _, m in ipairs(members) do redis.call('HSET', KEYS[2 * n], 'i:' .. m, '') end
      -- The value is wanted: its record must not expire (layout 1 persisted it when indexing).
      redis.call('PERSIST', KEYS[2 * n])
      redis.call('DEL', KEYS[2 * n - 1])
      moved = moved + 1
    end
  end
elseif ARGV[1] == 'indicator' then
  for n = 1, #KEYS - 1 do
    local key = KEYS[1 + n]
    local attrs, ref, json, vf = ARGV[4 * n - 2], ARGV[4 * n - 1], ARGV[4 * n], ARGV[4 * n + 1]
    local isHash = redis.call('TYPE', key)['ok'] == 'hash'
    local h = isHash and redis.call('HMGET', key, 'g', 'e', 'live', 'vals', 'attrs', 'stix') or {}
    if isHash and (h[5] or '') == attrs then
      local live = h[3] == '1' and attrs ~= ''
      local fs = ''
      if live then
        fs = ref
        addRef(KEYS[1], ref, json)
      end
      local rec = '[' .. cjson.encode(h[1] or '0') .. ',' .. cjson.encode(h[2] or '0-0') .. ',' ..
        (live and 1 or 0) .. ',' .. (live and h[4] or '[]') .. ',' .. cjson.encode(fs) .. ',' ..
        cjson.encode(h[6] or '') .. (live and (',' .. vf) or '') .. ']'
      local ttl = redis.call('PTTL', key)
      redis.call('DEL', key)
      if ttl > 0 then redis.call('SET', key, rec, 'PX', ttl) else redis.call('SET', key, rec) end
      moved = moved + 1
    end
  end
elseif ARGV[1] == 'live' then
  local n = redis.call('SCARD', KEYS[1])
  if n > 0 then
    redis.call('INCRBY', KEYS[2], n)
    redis.call('DEL', KEYS[1])
    moved = 1
  end
else
  return redis.error_reply('migrate-legacy: unknown mode ' .. tostring(ARGV[1]))
end
return moved
