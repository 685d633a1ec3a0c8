--[[
  BullMQ's own addStandardJob script, run once per job of a batch in one call (apps/ingest/src/add-jobs.ts).
  KEYS: the queue's nine keys of addStandardJob (the same for every job of the queue).
  ARGV: three arguments per job, as BullMQ builds them for addStandardJob: packed args, data, packed options.
  Returns one result per job, as addStandardJob returns it (the job id, or a negative error code).
  The line below is replaced by BullMQ's script text (bullmq/dist/esm/scripts/addStandardJob-9.js) at load.
]]
local function addStandardJob(KEYS, ARGV)
-- @bullmq addStandardJob
end
local results = {}
local n = 0
for i = 1, #ARGV, 3 do
  n = n + 1
  results[n] = addStandardJob(KEYS, {ARGV[i], ARGV[i + 1], ARGV[i + 2]})
end
return results
