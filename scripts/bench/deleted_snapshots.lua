-- Creates COUNT small snapshots, has another user visit each, then deletes
-- them all. Run with `--jobs queue`, it leaves COUNT mark_logs_deleted jobs
-- queued, each with one visitor's log to mark: what the `keep jobs work`
-- benchmark drains.
-- Usage: keep --jobs queue run scripts/bench/deleted_snapshots.lua COUNT [VISITOR]
local count, visitor = tonumber(arg[1] or 1000), arg[2] or "visitor"

local CONTENT = '{"dashboards":[{"id":"d1","modules":[],"name":"shared"}],"version":3}'

local ids = {}
for i = 1, count do
  ids[i] = keep.snapshots.create { title = "Shared study " .. i, content = CONTENT }.id
end
keep.as(visitor, function()
  for i = 1, count do
    keep.snapshots.get(ids[i])
  end
end)
for i = 1, count do
  keep.snapshots.delete(ids[i])
end
print(string.format("deleted %d snapshots visited by %s", count, visitor))
