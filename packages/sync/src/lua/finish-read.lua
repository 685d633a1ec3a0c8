-- Ends a collection read of generation G: the highest generation read becomes max(current, G), the read's
-- summary is kept for the CLI, and the lock is released if ARGV[3] is its token (readers release it themselves,
-- after resuming their queue). A read that lost its lock still counts: what it recorded is safe
-- (record-observed.lua), and every page was recorded.
-- KEYS[1] read generation  KEYS[2] read info  KEYS[3] lock
-- ARGV[1] G  ARGV[2] info JSON  ARGV[3] token
-- Returns the highest generation read.
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local G = tonumber(ARGV[1])
if G > cur then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
  cur = G
end
if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
return cur
