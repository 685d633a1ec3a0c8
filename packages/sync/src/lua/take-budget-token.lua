-- GCRA request budget shared by every process using one Sekoia host + API key: at most `burst` requests at
-- once, then one per `interval`. Time is Redis's (TIME), so processes on hosts with skewed clocks agree.
-- KEYS[1] theoretical arrival time (µs)  KEYS[2] pause key (Retry-After / WAF block)
-- ARGV[1] interval µs  ARGV[2] burst (>= 1)
-- Returns {granted 0|1, wait µs, Redis now µs}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {0, paused * 1000, now} end
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowAt = tat - tolerance
if now < allowAt then return {0, allowAt - now, now} end
local newTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1000)
return {1, 0, now}
