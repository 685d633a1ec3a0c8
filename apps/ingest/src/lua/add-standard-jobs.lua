--[[
  BullMQ's own addStandardJob script, run once per job of a batch in one call (apps/ingest/src/add-jobs.ts), and
  only while the caller holds the reader lease: a replica that lost it writes nothing, however late its call lands
  (ioredis resends an unanswered command after a reconnect; issue 17: a job of an event the new reader already
  had applied, its completed job trimmed and its indicator's tombstone pruned, would bring a deleted indicator
  back). As commit-checkpoint.lua, which fences the checkpoint by the same token.
  KEYS[1..9]: the queue's nine keys of addStandardJob (the same for every job of the queue).
  KEYS[10]: the reader lease (@octi-sekoia/queue keys.ts `lease`).
  ARGV[1]: the caller's lease token.
  ARGV[2..]: three arguments per job, as BullMQ builds them for addStandardJob: packed args, data, packed options.
  Returns one result per job, as addStandardJob returns it (the job id, or a negative error code), or 0 (not a
  table) when the lease is not the caller's: nothing written.
  The line below is replaced by BullMQ's script text (bullmq/dist/esm/scripts/addStandardJob-9.js) at load.
]]
if redis.call('GET', KEYS[10]) ~= ARGV[1] then
  return 0
end
local function addStandardJob(KEYS, ARGV)
-- @bullmq addStandardJob
end
local queueKeys = {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]}
local results = {}
local n = 0
for i = 2, #ARGV, 3 do
  n = n + 1
  results[n] = addStandardJob(queueKeys, {ARGV[i], ARGV[i + 1], ARGV[i + 2]})
end
return results
