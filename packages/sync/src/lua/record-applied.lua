-- Records what a write (or a search) established about one value in Sekoia, then decides whether the value
-- leaves the dirty set. Mutations describe Sekoia as it now is (an id created, revoked, edited), so they are
-- applied even when our lock was lost: intents serialised the writes, and dropping a created id would leave
-- an untracked live IOC. The value leaves the dirty set only if the lock is still ours, the desired version
-- we acted on is still the current one, and nothing is uncertain; otherwise it goes back (now or later).
-- KEYS[1] dirty zset  KEYS[2] lock  KEYS[3] value hash (applied state and index: `i:<indicatorId>` fields)
-- KEYS[4] values touched during a collection read (a set that exists only while a read runs: read-touched.ts)
-- ARGV[1] token  ARGV[2] seq  ARGV[3] now ms  ARGV[4] value  ARGV[5] desired version acted on
-- ARGV[6] mode: 'done' (caller believes Sekoia matches that version) | 'retry' (not yet) | 'observe' (search
--         result, recorded mid-claim, only while the lock is held; the lock is kept)
-- ARGV[7] retry delay ms  ARGV[8] write horizon ms (intent expiry)  ARGV[9] retention ms of a fully
--         revoked, undesired value's record
-- ARGV[10..] mutations: setid <id> <fp> | delid <id> | gen <g> | rej <json> | clearrej | unsure <fp> | sure |
--         failinc | failreset | clearforeign | keepintent
-- Returns {outcome, reason}: outcome 'done' | 'redirtied' | 'lost' (observe without the lock) | 'ok' (observe).
local token, seq, now, value, acted, mode = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local delay, horizon, retention = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local held = redis.call('GET', KEYS[2]) == token

if mode == 'observe' and not held then return {'lost', 'lock'} end

local keepIntent = false
local i = 10
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'setid' then
    redis.call('HSET', KEYS[3], 'id:' .. ARGV[i + 1], ARGV[i + 2])
    i = i + 3
  elseif op == 'delid' then
    redis.call('HDEL', KEYS[3], 'id:' .. ARGV[i + 1])
    i = i + 2
  elseif op == 'gen' then
    redis.call('HSET', KEYS[3], 'gen', ARGV[i + 1])
    i = i + 2
  elseif op == 'rej' then
    redis.call('HSET', KEYS[3], 'rej', ARGV[i + 1])
    i = i + 2
  elseif op == 'clearrej' then
    redis.call('HDEL', KEYS[3], 'rej')
    i = i + 1
  elseif op == 'unsure' then
    -- The value holds the fingerprint the lost create sent ('?' when unknown).
    local fp = ARGV[i + 1]
    if fp == '' then fp = '?' end
    redis.call('HSET', KEYS[3], 'unsure', fp)
    i = i + 2
  elseif op == 'sure' then
    redis.call('HDEL', KEYS[3], 'unsure')
    i = i + 1
  elseif op == 'failinc' then
    redis.call('HINCRBY', KEYS[3], 'fail', 1)
    i = i + 1
  elseif op == 'failreset' then
    redis.call('HDEL', KEYS[3], 'fail')
    i = i + 1
  elseif op == 'keepintent' then
    -- The request may still be in flight (timeout, reset): its intent stays until it expires, so no other
    -- claim writes this value before that request has certainly ended.
    keepIntent = true
    i = i + 1
  elseif op == 'clearforeign' then
    -- Another claim's intent that has expired: its request has ended one way or the other, and the search
    -- this observation comes from was made after that.
    for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do
      if string.sub(f, 1, 4) == 'int:' and string.sub(f, 5) ~= seq then
        local since = tonumber(string.match(redis.call('HGET', KEYS[3], f) or '', '^[^|]*|(%d+)|'))
        if since == nil or since + horizon <= now then redis.call('HDEL', KEYS[3], f) end
      end
    end
    i = i + 1
  else
    return redis.error_reply('record-applied: unknown mutation ' .. tostring(op))
  end
end

-- A collection read running now may record a page fetched before this mutation: it re-checks the value after.
if i > 10 and redis.call('EXISTS', KEYS[4]) == 1 then redis.call('SADD', KEYS[4], value) end

if mode == 'observe' then return {'ok', ''} end

if not keepIntent then redis.call('HDEL', KEYS[3], 'int:' .. seq) end
local fields = redis.call('HKEYS', KEYS[3])
local ids, foreign, wanted = 0, false, false
for _, f in ipairs(fields) do
  local p = string.sub(f, 1, 3)
  if p == 'id:' then ids = ids + 1 end
  if p == 'int' and string.sub(f, 1, 4) == 'int:' then foreign = true end
  if string.sub(f, 1, 2) == 'i:' then wanted = true end
end
-- A value never dirtied by a job (adopted, marked dirty by hand) has version 0.
local current = redis.call('HGET', KEYS[3], 'ver') or '0'
local unsure = redis.call('HEXISTS', KEYS[3], 'unsure') == 1

local outcome, reason
if mode == 'done' and held and current == acted and not unsure and not foreign then
  redis.call('ZREM', KEYS[1], value)
  outcome, reason = 'done', ''
else
  local at = now + delay
  if not held then
    reason = 'lock'
    at = now
  elseif current ~= acted then
    reason = 'version'
    at = now
  elseif mode == 'retry' then
    reason = 'retry'
  elseif unsure then
    reason = 'unsure'
  else
    reason = 'intent'
  end
  redis.call('ZADD', KEYS[1], at, value)
  outcome = 'redirtied'
end
if held then redis.call('DEL', KEYS[2]) end

-- Memory: a value nobody wants, with no live id and nothing pending, keeps its record (revoked) for a while.
if ids == 0 and not foreign and not unsure and not wanted and outcome == 'done' then
  redis.call('PEXPIRE', KEYS[3], retention)
else
  redis.call('PERSIST', KEYS[3])
end
return {outcome, reason}
