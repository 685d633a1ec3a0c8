-- Records a write intent on each value right before the HTTP request is sent: the create-pending (or
-- edit/revoke-pending) mark that survives a crash. Only the lock holder may begin a write, and never while
-- another claim's intent is on the value: intents serialise writes to Sekoia per value even when a lock has
-- expired under a slow holder, which is what makes the recorded outcome of every write trustworthy.
-- The lock is renewed at the same time so it outlives the request. A value whose desired version is no longer the
-- one the claim decided on is refused too: the claim may have waited long for its budget token, and a write decided
-- on an older desired state would go out with outdated attributes (or revoke a value wanted again) and be redone.
-- Called again by a claim that already holds an intent (a bisected half), it refreshes the intent's time.
-- KEYS[2n-1] lock of item n  KEYS[2n] value hash of item n (every key it touches)
-- ARGV[1] now ms  ARGV[2] lock TTL ms  ARGV[3] op
-- ARGV[4..] quintuples per item n (value, token, seq, desired version acted on, fp written) — fp per value: the
-- items of one create carry their own valid_from
-- Returns the values whose write may go ahead.
local now, ttl = ARGV[1], ARGV[2]
local prefix = ARGV[3] .. '|' .. now .. '|'
local accepted = {}
for n = 1, #KEYS / 2 do
  local i = 4 + (n - 1) * 5
  local lock, hash = KEYS[2 * n - 1], KEYS[2 * n]
  local v, token, seq, version = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local mark = prefix .. ARGV[i + 4]
  if redis.call('GET', lock) == token
    and (redis.call('HGET', hash, 'ver') or '0') == version then
    local foreign = false
    local fields = redis.call('HKEYS', hash)
    for _, f in ipairs(fields) do
      if string.sub(f, 1, 4) == 'int:' and string.sub(f, 5) ~= seq then
        foreign = true
        break
      end
    end
    if not foreign then
      redis.call('HSET', hash, 'int:' .. seq, mark)
      redis.call('PERSIST', hash)
      redis.call('PEXPIRE', lock, ttl)
      accepted[#accepted + 1] = v
    end
  end
end
return accepted
