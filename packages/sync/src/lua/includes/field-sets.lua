-- Field sets (value-state.ts fieldSet) are counted in place in the field-sets hash `key`:
-- ref -> '<live indicators referring to it> <JSON>' (an include: packages/queue/src/lua-source.mjs).
local function addRef(key, ref, json)
  local cur = redis.call('HGET', key, ref)
  if cur then
    local n, text = string.match(cur, '^(%d+) (.*)$')
    redis.call('HSET', key, ref, (tonumber(n) + 1) .. ' ' .. text)
  else
    redis.call('HSET', key, ref, '1 ' .. json)
  end
end

local function dropRef(key, ref)
  local cur = redis.call('HGET', key, ref)
  if not cur then return end
  local n, text = string.match(cur, '^(%d+) (.*)$')
  if tonumber(n) <= 1 then
    redis.call('HDEL', key, ref)
  else
    redis.call('HSET', key, ref, (tonumber(n) - 1) .. ' ' .. text)
  end
end
