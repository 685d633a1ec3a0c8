-- Claims dirty values for reconcile: a per-value lock (token, PX) and a visibility bump of the value's dirty
-- score to the lock's expiry, so other claimers skip it while it is worked on and see it again if the holder
-- dies. A claimed value stays in the dirty set: only record-applied removes it, after the write is recorded.
-- The whole claim is one atomic step that never waits, so there is no lock-order deadlock to avoid; values
-- are still returned sorted so a batch is handled in a stable order.
-- KEYS[1] dirty zset  KEYS[2] claim sequence counter
-- ARGV[1] now ms  ARGV[2] max  ARGV[3] lock TTL ms  ARGV[4] token  ARGV[5] lock prefix
-- ARGV[6] 'scan' (the oldest due values) | 'values' (only the listed ones, if due)  ARGV[7..] values
-- Undeclared keys: the locks (`ARGV[5] .. value`), found in the dirty set in 'scan' mode; they share the
-- connector's hash tag with KEYS, hence its slot (@octi-sekoia/queue keys.ts).
-- Returns {seq, busy, {claimed values}}.
local now, max, ttl, token, lockPrefix = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]

local candidates
if ARGV[6] == 'scan' then
  -- Over-read: some candidates may be locked by others.
  candidates = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max * 4 + 16)
else
  candidates = {}
  for i = 7, #ARGV do
    local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
    if score and tonumber(score) <= now then candidates[#candidates + 1] = ARGV[i] end
  end
end

local claimed, busy = {}, 0
for _, v in ipairs(candidates) do
  if #claimed >= max then break end
  if redis.call('SET', lockPrefix .. v, token, 'PX', ttl, 'NX') then
    claimed[#claimed + 1] = v
    redis.call('ZADD', KEYS[1], 'XX', now + ttl, v)
  else
    -- Busy: stays dirty, hidden until that lock expires (the holder re-dirties it if it must be redone).
    busy = busy + 1
    local pttl = redis.call('PTTL', lockPrefix .. v)
    if pttl > 0 then redis.call('ZADD', KEYS[1], 'XX', now + pttl, v) end
  end
end
table.sort(claimed)
local seq = 0
if #claimed > 0 then seq = redis.call('INCR', KEYS[2]) end
return {seq, busy, claimed}
