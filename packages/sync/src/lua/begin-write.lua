-- Records a write intent on each value right before the HTTP request is sent: the create-pending (or
-- edit/revoke-pending) mark that survives a crash. Only the lock holder may begin a write, and never while
-- another claim's intent is on the value: intents serialise writes to Sekoia per value even when a lock has
-- expired under a slow holder, which is what makes the recorded outcome of every write trustworthy.
-- The lock is renewed at the same time so it outlives the request. A value whose desired version is no longer the
-- one the claim decided on is refused too: the claim may have waited long for its budget token, and a write decided
-- on an older desired state would go out with outdated attributes (or revoke a value wanted again) and be redone.
-- Called again by a claim that already holds an intent (a bisected half), it refreshes the intent's time.
-- ARGV[1] now ms  ARGV[2] lock TTL ms  ARGV[3] lock prefix  ARGV[4] value prefix  ARGV[5] op
-- ARGV[6..] quintuples (value, token, seq, desired version acted on, fp written) — fp per value: the items of one
-- create carry their own valid_from
-- Returns the values whose write may go ahead.
local now, ttl, lockPrefix, valuePrefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local prefix = ARGV[5] .. '|' .. now .. '|'
local accepted = {}
for i = 6, #ARGV, 5 do
  local v, token, seq, version = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local mark = prefix .. ARGV[i + 4]
  if redis.call('GET', lockPrefix .. v) == token
    and (redis.call('HGET', valuePrefix .. v, 'ver') or '0') == version then
    local foreign = false
    local fields = redis.call('HKEYS', valuePrefix .. v)
    for _, f in ipairs(fields) do
      if string.sub(f, 1, 4) == 'int:' and string.sub(f, 5) ~= seq then
        foreign = true
        break
      end
    end
    if not foreign then
      redis.call('HSET', valuePrefix .. v, 'int:' .. seq, mark)
      redis.call('PERSIST', valuePrefix .. v)
      redis.call('PEXPIRE', lockPrefix .. v, ttl)
      accepted[#accepted + 1] = v
    end
  end
end
return accepted
