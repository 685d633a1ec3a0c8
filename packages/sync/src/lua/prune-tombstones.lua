-- Drops the tombstones no event can still be refused by. A tombstone (G, T) (a removed indicator's record, live 0:
-- record-desired.lua) refuses the jobs of its indicator of generation G with an event id <= T. Jobs of an older
-- generation are refused by the generation counter anyway, and those of a newer one win over it. So once the
-- counter holds G and no event of G with an id <= T can still reach record-desired.lua, the tombstone refuses
-- nothing that could come, and goes. Two bounds, read in this one atomic step: B, for every indicator (every event
-- of G that may still come has an id >= B), and B(X) for an indicator X with work of its own pending (every event
-- of G for X that may still come has an id >= B(X)). B is the least of:
-- - ingest: it commits the checkpoint C only past events whose jobs are in Redis, and after a crash or a lease
--   handover reads again from C: the ids it may still enqueue are > C (>= C during a recovery listing, which
--   repeats ids). No checkpoint, or one of another generation than the counter: B = 0-0;
-- - the dead letters of kind `event` of any generation (ingest normalizes a replayed event with the current
--   generation and its own id; the indicators of a raw event are not read here) and the events sent back and not
--   yet popped by ingest (the replayed-events list);
-- and B(X) the least event id of:
-- - X's jobs of G in the indicators queue, waiting, paused, prioritized, delayed, active or failed (not yet moved
--   to the dead letters), by the event id and indicator id in the job id `g<G>-<eventId>-<indicatorId>[-replay…]`
--   (model jobId; a replay appends the suffix once, so its last `-replay` starts it), by its data when the id is
--   of another form;
-- - X's dead letters of kind `job` of generation G (payload eventId and indicatorId), which a replay brings back.
-- So a dead letter nobody replays holds back its own indicator's tombstone, not the others'.
-- A tombstone is dropped when T < B and T < B(X) (exact comparison) and it is at least ARGV[7] ms old (its age
-- read from its TTL: ARGV[6] - PTTL). Late writes, the calls of a process cut off or paused that land after the
-- bounds moved past them (ioredis resends an unanswered command after a reconnect, however late), are fenced where
-- they are written: ingest's batches of jobs by the reader lease (apps/ingest add-standard-jobs.lua: a reader that
-- lost it writes nothing) and a worker's record-desired.lua by the job's BullMQ lock (`lock-lost`). The least age
-- is kept as a backstop only (a clock or a pause no fence covers). Re-enqueues are deliberate, not late: a dead
-- letter replayed or an event sent back is pending (hence in B or B(X)) from the moment it exists
-- (docs/redis.md "Key families"). Lost writes (a failover) are no exception: Redis keeps a prefix, so a checkpoint
-- rolled back comes with the prunes that relied on the newer one rolled back too.
-- Tombstones of an older generation than the counter met in the range go too (sweep-unseen.lua's argument).
-- Cost: one pass over the pending jobs and dead letters (not the collection); above ARGV[5] of them it does
-- nothing ('busy'). Then it walks the index from a resume position for ARGV[13] entries per pending job and dead
-- letter it passed over, at least ARGV[12], at most ARGV[4]: the pass is paid once per step (~3 µs a pending job
-- against ~10-15 µs an index entry), so a step over many pending jobs walks about as long as its pass took, and a
-- step over few stays short. Sized by counts, not timed: since Redis 7.2 TIME inside a script returns the script's
-- start time (redis/redis #10300), so a clock read here never moves. The caller (state.ts pruneTombstones) steps
-- on from the last entry looked at, so kept entries at the front (young, or held back by their own indicator's
-- work) do not hide the prunable ones behind them, and stops once its steps' round trips (an upper bound of their
-- Redis time, measured by the client) reach its budget: under the prune lease (ARGV[10]
-- its token; '' = no lease, a bare step) the step checks and renews the lease (another holder: 'lease-lost',
-- nothing done) and records where the next run resumes (KEYS[19], deleted once the index below the bound is done).
-- Safety does not depend on the lease nor on the cursor: each step reads its bounds itself, atomically.
-- KEYS[1] tombstone index (zset id -> ms of T)  KEYS[2] generation counter  KEYS[3] checkpoint (JSON)
-- KEYS[4] replayed-events list
-- KEYS[5..7] indicators queue active, wait, paused (lists)  KEYS[8..10] its prioritized, delayed, failed (zsets)
-- KEYS[11..13] dead-letters queue active, wait, paused  KEYS[14..16] its prioritized, delayed, failed
-- KEYS[17] stats hash (field tombstones-pruned)  KEYS[18] prune lease  KEYS[19] prune resume cursor (JSON)
-- ARGV[1] indicator record prefix  ARGV[2] indicators job key prefix  ARGV[3] dead-letters job key prefix
-- ARGV[4] most index entries looked at  ARGV[5] most pending jobs + dead letters scanned  ARGV[6] tombstone TTL ms
-- ARGV[7] least age of a dropped tombstone ms  ARGV[8] resume score ('': from the start)  ARGV[9] resume member
-- ARGV[10] lease token ('': none)  ARGV[11] lease TTL ms  ARGV[12] least index entries looked at (if so many are
-- left)  ARGV[13] index entries looked at per pending job and dead letter passed over
-- Undeclared keys: the indicator records (`ARGV[1] .. id`) found in the index and the BullMQ job hashes
-- (`ARGV[2] .. id`, `ARGV[3] .. id`) found in the lists; they share the connector's hash tag with KEYS, hence its
-- slot (@octi-sekoia/queue keys.ts).
-- Returns {pruned, state 'ok'|'busy'|'no-generation'|'lease-lost', bound or pending count, more (1: stopped by
-- its entry count, some may be left below the bound), resume score, resume member (the last entry looked at),
-- pending jobs and dead letters passed over, index entries looked at}.
--- @include "includes/fence"

local token = ARGV[10]
if token ~= '' then
  if redis.call('GET', KEYS[18]) ~= token then return {0, 'lease-lost', '', 0, '', '', 0, 0} end
  redis.call('PEXPIRE', KEYS[18], ARGV[11])
end

local G = redis.call('GET', KEYS[2])
if not G then return {0, 'no-generation', '', 0, '', '', 0, 0} end

local pending = redis.call('LLEN', KEYS[4])
for i = 5, 16 do
  if (i >= 5 and i <= 7) or (i >= 11 and i <= 13) then
    pending = pending + redis.call('LLEN', KEYS[i])
  else
    pending = pending + redis.call('ZCARD', KEYS[i])
  end
end
if pending > tonumber(ARGV[5]) then return {0, 'busy', tostring(pending), 0, '', '', pending, 0} end

local function isEvent(id)
  return type(id) == 'string' and string.match(id, '^%d+%-%d+$') ~= nil
end
local function decode(raw)
  if not raw then return nil end
  local ok, v = pcall(cjson.decode, raw)
  if ok and type(v) == 'table' then return v end
  return nil
end
local function genOf(n)
  if type(n) == 'number' then return string.format('%d', n) end
  if type(n) == 'string' and string.match(n, '^%d+$') then return n end
  return nil
end

local bound = nil
local function lower(id)
  if bound == nil or cmpevent(id, bound) < 0 then bound = id end
end
local own = {}
local function lowerOf(ind, id)
  if type(ind) ~= 'string' then
    lower(id)
  elseif own[ind] == nil or cmpevent(id, own[ind]) < 0 then
    own[ind] = id
  end
end

-- Ingest.
local cp = decode(redis.call('GET', KEYS[3]))
if cp and genOf(cp.generation) and cmpint(genOf(cp.generation), G) == 0 and isEvent(cp.start_from) then
  lower(cp.start_from)
else
  lower('0-0')
end

-- The indicators queue.
local function job(id)
  local g, e, rest = string.match(id, '^g(%d+)%-(%d+%-%d+)%-(.*)$')
  if g then
    if rest ~= 'sweep' and cmpint(g, G) == 0 then
      -- The indicator id, without a replay's suffix (`-replay` or `-replay-<ms>`, appended once, so its last
      -- occurrence; both spellings held back: an id that itself contains `-replay` stays safe).
      lowerOf(rest, e)
      -- A plain find first: the greedy match alone backtracks over every id (≈ half the pass's time).
      if string.find(rest, '-replay', 1, true) then
        local base = string.match(rest, '^(.*)%-replay')
        if base then lowerOf(base, e) end
      end
    end
    return
  end
  local d = decode(redis.call('HGET', ARGV[2] .. id, 'data'))
  if not d then
    if redis.call('EXISTS', ARGV[2] .. id) == 1 then lower('0-0') end
    return
  end
  if d.kind == 'sweep' then return end
  local dg = genOf(d.generation)
  if not dg then
    lower('0-0')
  elseif cmpint(dg, G) == 0 and isEvent(d.eventId) then
    lowerOf(d.indicatorId, d.eventId)
  end
end
-- A dead letter.
local function letter(id)
  if string.sub(id, 1, 4) ~= 'job-' and string.sub(id, 1, 6) ~= 'event-' then return end
  local d = decode(redis.call('HGET', ARGV[3] .. id, 'data'))
  if not d or type(d.payload) ~= 'table' then return end
  local p = d.payload
  if d.kind == 'job' then
    if p.kind == 'sweep' then return end
    local pg = genOf(p.generation)
    -- A job that does not validate (no event id) never reaches record-desired.lua.
    if pg and cmpint(pg, G) == 0 and isEvent(p.eventId) then lowerOf(p.indicatorId, p.eventId) end
  elseif d.kind == 'event' then
    if isEvent(p.id) then lower(p.id) end
  end
end

for _, raw in ipairs(redis.call('LRANGE', KEYS[4], 0, -1)) do
  local m = decode(raw)
  if m and isEvent(m.id) then lower(m.id) end
end
for i = 5, 10 do
  local ids
  if i <= 7 then ids = redis.call('LRANGE', KEYS[i], 0, -1) else ids = redis.call('ZRANGE', KEYS[i], 0, -1) end
  for _, id in ipairs(ids) do job(id) end
end
for i = 11, 16 do
  local ids
  if i <= 13 then ids = redis.call('LRANGE', KEYS[i], 0, -1) else ids = redis.call('ZRANGE', KEYS[i], 0, -1) end
  for _, id in ipairs(ids) do letter(id) end
end

-- The index in its order (score, then member), from the resume position ARGV[8]/ARGV[9] (the last entry the
-- previous step looked at; '' from the start), below the bound's millisecond (a T in the bound's own millisecond
-- waits for the next one). Entries kept (too young, or held back by their indicator's own pending work) are
-- stepped over, so the entries behind them are reached by the next steps, not only by the TTL.
local bms = tonumber(string.match(bound, '^(%d+)'))
-- As many entries as the pass is worth (so its cost is shared by them), at least ARGV[12], at most ARGV[4].
local limit = math.min(tonumber(ARGV[4]), math.max(tonumber(ARGV[12]), math.floor(pending * tonumber(ARGV[13]))))
local ttl, minAge = tonumber(ARGV[6]), tonumber(ARGV[7])
local rank = 0
if ARGV[8] ~= '' then
  local at = redis.call('ZSCORE', KEYS[1], ARGV[9])
  if at and tonumber(at) == tonumber(ARGV[8]) then
    rank = redis.call('ZRANK', KEYS[1], ARGV[9]) + 1
  elseif not at then
    -- Gone since (pruned by another worker, live again): its place is the rank it would have (added for the time
    -- of the ZRANK, in this atomic step).
    redis.call('ZADD', KEYS[1], ARGV[8], ARGV[9])
    rank = redis.call('ZRANK', KEYS[1], ARGV[9])
    redis.call('ZREM', KEYS[1], ARGV[9])
  else
    -- Indexed again under another score (deleted again): from the first entry of the old score.
    rank = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. ARGV[8])
  end
end
local looked, pruned = 0, 0
local lastScore, lastId = '', ''
local done = false
while not done and looked < limit do
  local asked = math.min(limit - looked, 64)
  local page = redis.call('ZRANGE', KEYS[1], rank, rank + asked - 1, 'WITHSCORES')
  if #page < 2 * asked then done = true end
  for i = 1, #page, 2 do
    local id, score = page[i], page[i + 1]
    if tonumber(score) >= bms then
      done = true
      break
    end
    looked = looked + 1
    lastScore, lastId = score, id
    local key = ARGV[1] .. id
    local rec = decode(redis.call('GET', key))
    if not rec or rec[3] ~= 0 then
      -- Expired (the TTL backstop), or live again: nothing to index.
      redis.call('ZREM', KEYS[1], id)
    else
      local c = cmpint(tostring(rec[1]), G)
      if c > 0 then
        -- A generation the counter does not hold yet (never, short of a lost counter): only its TTL ends it.
        redis.call('ZREM', KEYS[1], id)
      else
        local pttl = redis.call('PTTL', key)
        local old = pttl < 0 or ttl - pttl >= minAge
        local below = cmpevent(rec[2], bound) < 0 and (own[id] == nil or cmpevent(rec[2], own[id]) < 0)
        if old and (c < 0 or below) then
          redis.call('DEL', key)
          redis.call('ZREM', KEYS[1], id)
          pruned = pruned + 1
        else
          rank = rank + 1
        end
      end
    end
  end
end
if pruned > 0 then redis.call('HINCRBY', KEYS[17], 'tombstones-pruned', pruned) end
local more = not done and lastId ~= ''
if token ~= '' then
  if more then
    redis.call('SET', KEYS[19], cjson.encode({lastScore, lastId}))
  else
    redis.call('DEL', KEYS[19])
  end
end
return {pruned, 'ok', bound, more and 1 or 0, lastScore, lastId, pending, looked}
