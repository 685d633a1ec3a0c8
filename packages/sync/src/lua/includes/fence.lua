-- The fence comparison, one file included where needed (packages/queue/src/lua-source.mjs).
-- Exact comparison of non-negative decimal integers of any length (no float rounding): by length, then bytes.
local function cmpint(a, b)
  a = string.gsub(a, '^0+', '')
  b = string.gsub(b, '^0+', '')
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end

-- Stream event ids `<ms>-<seq>`, in stream order.
local function cmpevent(e1, e2)
  local m1, s1 = string.match(e1, '^(%d+)-(%d+)')
  local m2, s2 = string.match(e2, '^(%d+)-(%d+)')
  local c = cmpint(m1, m2)
  if c ~= 0 then return c end
  return cmpint(s1, s2)
end

-- Fences (generation, event id): by generation, then by event id.
local function cmpfence(g1, e1, g2, e2)
  local c = cmpint(g1, g2)
  if c ~= 0 then return c end
  return cmpevent(e1, e2)
end
