-- Pauses the shared request budget (429 Retry-After, WAF block) and empties it: after the pause, requests
-- resume one interval apart, without a burst that would trip the WAF again. Never shortens a longer pause.
-- KEYS[1] theoretical arrival time (µs)  KEYS[2] pause key  ARGV[1] pause ms  ARGV[2] interval µs  ARGV[3] burst
-- Returns the pause in force, ms.
local ms = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local current = redis.call('PTTL', KEYS[2])
if current < ms then
  redis.call('SET', KEYS[2], '1', 'PX', ms)
  current = ms
end
local tolerance = tonumber(ARGV[2]) * (tonumber(ARGV[3]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local emptyAt = now + current * 1000 + tolerance
if tat < emptyAt then
  redis.call('SET', KEYS[1], string.format('%.0f', emptyAt), 'PX', math.ceil((emptyAt - now) / 1000) + 1000)
end
return current
