-- Finds a job that must be applied before the sweep of generation G: a job of generation <= G, enqueued no later
-- than the sweep marker, still active (a crashed worker's job counts until it is recovered and done), waiting,
-- paused, prioritized or delayed (a retry) — or failed and not yet moved to the dead letters (the sweep exempts
-- the indicators that dead letters name, so it waits until the move). One atomic pass, so a job moving between
-- states while we look (wait → active, active → delayed, stalled → wait, active → failed) cannot slip through.
-- KEYS[1] active  KEYS[2] wait  KEYS[3] paused (lists)  KEYS[4] prioritized  KEYS[5] delayed  KEYS[6] failed
-- (sorted sets)
-- ARGV[1] job key prefix (`<bull prefix>:<queue>:`)  ARGV[2] the marker's job id  ARGV[3] its timestamp (ms)
-- ARGV[4] G
-- Undeclared keys: the job hashes (`ARGV[1] .. id`) of the ids found in KEYS; BullMQ's keys of one queue share
-- the connector's hash tag (its prefix), hence its slot (@octi-sekoia/queue keys.ts).
-- Returns {blocker id, state} or false.
local prefix, marker, markerTs, G = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local names = {'active', 'wait', 'paused', 'prioritized', 'delayed', 'failed'}

local function blocks(id)
  if id == marker then return false end
  local ts = redis.call('HGET', prefix .. id, 'timestamp')
  if not ts or tonumber(ts) > markerTs then return false end
  -- Job ids are g<generation>-… (dead-letter replays too); otherwise read the job's data.
  local g = tonumber(string.match(id, '^g(%d+)%-') or '')
  if not g then
    local ok, d = pcall(cjson.decode, redis.call('HGET', prefix .. id, 'data') or 'null')
    if ok and type(d) == 'table' and type(d.generation) == 'number' then g = d.generation end
  end
  return g == nil or g <= G
end

for i = 1, 6 do
  local ids
  if i <= 3 then ids = redis.call('LRANGE', KEYS[i], 0, -1) else ids = redis.call('ZRANGE', KEYS[i], 0, -1) end
  -- Lists are consumed from the right: the oldest jobs are there, look at them first.
  local from, to, step = 1, #ids, 1
  if i <= 3 then from, to, step = #ids, 1, -1 end
  for j = from, to, step do
    if blocks(ids[j]) then return {ids[j], names[i]} end
  end
end
return false
