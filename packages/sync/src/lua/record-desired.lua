-- Records the desired state of one indicator from a job, fenced on (generation, eventId), and maintains the
-- value index and the dirty set in the same atomic step (docs/architecture.md).
-- The index of a value is the `i:<indicatorId>` fields of its value hash (one record per value); the indicator
-- refers to its field set (the attributes indicators share) by ref, stored once in the field-sets hash and
-- counted; its own valid_from is in its record (value-state.ts fieldSet says why).
--
-- KEYS[1] indicator record  string, JSON [g, e, live 0|1, vals, fs, stix, validFrom] (a string, not a hash: ~150
--                           bytes less per indicator, packages/sync/README.md "Memory"; a tombstone has no
--                           validFrom, nor has a record written before issue 17 item 5)
-- KEYS[2] dirty zset      value -> not-before ms
-- KEYS[3] live count      number of live indicators
-- KEYS[4] generation      current generation (absent = no guard)
-- KEYS[5] version seq     global desired-version counter
-- KEYS[6] stats hash
-- KEYS[7] field sets hash  ref -> '<live indicators referring to it> <JSON of value-state.ts fieldSet>'
-- KEYS[8] tombstone index  zset indicator id -> ms of its tombstone's event id (prune-tombstones.lua)
-- ARGV[1] indicatorId  ARGV[2] generation  ARGV[3] eventId <ms>-<seq>  ARGV[4] 'upsert'|'remove'
-- ARGV[5] values JSON array (canonical, de-duplicated)  ARGV[6] field set JSON  ARGV[7] field set ref
-- ARGV[8] stixId (value-state.ts stixElement)  ARGV[9] tombstone TTL ms  ARGV[10] now ms  ARGV[11] previous values JSON array or ''
-- ARGV[12] value key prefix  ARGV[13] validFrom as its record holds it (value-state.ts validFromElement: a JSON
-- number or string) or '' for a remove
-- ARGV[14] the processing worker's BullMQ lock token, or '' (a caller without a job: tests, cli adopt…)
-- KEYS[9] when ARGV[14] is set: the job's BullMQ lock (`<bull prefix>:<queue>:<jobId>:lock`, @octi-sekoia/queue
--         keys.ts jobLock); the value hashes then start at KEYS[10]
-- KEYS[9..] (KEYS[10..] with a lock) the value hashes (`ARGV[12] .. value`) of the values of ARGV[5], then of
--         ARGV[11], in that order
-- Undeclared keys: the value hashes of the values the indicator exported before that it no longer exports. They
-- are read from its record inside the script: a caller that read them first could race another job of the same
-- indicator, so they cannot be declared. They share the connector's hash tag with KEYS, hence its slot
-- (@octi-sekoia/queue keys.ts).
-- Returns {1, 'applied', version, {dirty values}}, {0, 'stale'|'duplicate'}, {0, 'stale-generation', current} or
-- {0, 'lock-lost'}.
--
-- The lock fence (issue 17): a worker cut off while this call was in flight (ioredis resends an unanswered command
-- after a reconnect, however late) has lost its job lock meanwhile; another worker completed the job, a later
-- event (a delete) was applied and its tombstone may be pruned already (prune-tombstones.lua), so the late call
-- would bring the indicator back. Refused, nothing written (no counter either: the worker counts it), unless the
-- lock still holds the caller's token.

--- @include "includes/fence"
--- @include "includes/field-sets"

local id, gen, eid, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- The index of the last key before the value hashes.
local vbase = 8
if ARGV[14] and ARGV[14] ~= '' then
  if redis.call('GET', KEYS[9]) ~= ARGV[14] then return {0, 'lock-lost'} end
  vbase = 9
end
if op == 'upsert' then
  -- Written into the record as it is: it must be one JSON number or string.
  local ok, vf = pcall(cjson.decode, ARGV[13])
  if not ok or (type(vf) ~= 'number' and type(vf) ~= 'string') then
    return redis.error_reply('record-desired: validFrom element is not a JSON number or string')
  end
end

-- A job of a generation older than the current one is superseded by the re-read of the newer generation.
local current = redis.call('GET', KEYS[4])
if current and cmpint(gen, current) < 0 then
  redis.call('HINCRBY', KEYS[6], 'stale-generation', 1)
  return {0, 'stale-generation', current}
end

local raw = redis.call('GET', KEYS[1])
local known = raw ~= false
local h = {}
if known then
  local rec = cjson.decode(raw)
  h = {rec[1], rec[2], rec[3] == 1 and '1' or '0', rec[4], rec[5] ~= '' and rec[5] or false}
end
if known then
  local c = cmpfence(gen, eid, h[1], h[2])
  if c == 0 then
    redis.call('HINCRBY', KEYS[6], 'duplicate', 1)
    return {0, 'duplicate'}
  end
  if c < 0 then
    redis.call('HINCRBY', KEYS[6], 'stale', 1)
    return {0, 'stale'}
  end
end

local old = {}
if known and h[3] == '1' then old = h[4] end
local new = {}
if op == 'upsert' then new = cjson.decode(ARGV[5]) end
local inNew = {}
for _, v in ipairs(new) do inNew[v] = true end

local dirty, marked = {}, {}
local function mark(v)
  if not marked[v] then
    marked[v] = true
    dirty[#dirty + 1] = v
  end
end

-- Every value the indicator exported before or exports now is dirty: membership or the winning attributes
-- (last event in stream order) may have changed for it.
local member = 'i:' .. id
for _, v in ipairs(old) do
  if not inNew[v] then redis.call('HDEL', ARGV[12] .. v, member) end
  mark(v)
end
for i, v in ipairs(new) do
  redis.call('HSET', KEYS[vbase + i], member, '')
  mark(v)
end
-- `previous` is a hint only for an indicator never seen: its old values get looked at (not un-indexed: an
-- unseen indicator is in no index).
if not known and ARGV[11] ~= '' then
  for _, v in ipairs(cjson.decode(ARGV[11])) do mark(v) end
end

local version = redis.call('INCR', KEYS[5])
local now = tonumber(ARGV[10])
for _, v in ipairs(dirty) do
  -- LT: makes a value waiting for a retry (future score) due now, never delays one already due.
  redis.call('ZADD', KEYS[2], 'LT', now, v)
  redis.call('HSET', ARGV[12] .. v, 'ver', version)
  redis.call('PERSIST', ARGV[12] .. v)
end

-- The field set the indicator held while live (refs count live indicators only; a tombstone holds none).
local oldRef = false
if known and h[3] == '1' and h[5] then oldRef = h[5] end
local newRef = false
if op == 'upsert' then newRef = ARGV[7] end
if newRef ~= oldRef then
  if newRef then addRef(KEYS[7], newRef, ARGV[6]) end
  if oldRef then dropRef(KEYS[7], oldRef) end
end

-- The record: the values JSON as the caller made it (checked canonical), every string encoded by cjson.
local function record(live, vals, fs, vf)
  return '[' .. cjson.encode(gen) .. ',' .. cjson.encode(eid) .. ',' .. live .. ',' .. vals .. ',' ..
    cjson.encode(fs) .. ',' .. cjson.encode(ARGV[8]) .. vf .. ']'
end
if op == 'upsert' then
  redis.call('SET', KEYS[1], record(1, ARGV[5], newRef, ',' .. ARGV[13]))
  if not (known and h[3] == '1') then redis.call('INCR', KEYS[3]) end
  if known and h[3] == '0' then redis.call('ZREM', KEYS[8], id) end
else
  -- Tombstone: keeps the fence for the dedup horizon so a late, older upsert cannot resurrect the indicator.
  -- Indexed by its event id, so prune-tombstones.lua drops it as soon as no older event of its generation can
  -- still arrive; the TTL stays as the backstop.
  redis.call('SET', KEYS[1], record(0, '[]', '', ''), 'PX', ARGV[9])
  redis.call('ZADD', KEYS[8], tonumber(string.match(eid, '^(%d+)')), id)
  if known and h[3] == '1' then redis.call('DECR', KEYS[3]) end
end
redis.call('HINCRBY', KEYS[6], 'applied', 1)
return {1, 'applied', version, dirty}
