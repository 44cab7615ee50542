-- Creates COUNT sessions, reads each, then updates each, one call at a time
-- through Keep's API, and prints the three phases' rates in operations per
-- second: "create get update". Reads and updates visit the sessions in a
-- random order. The sessions hold the content of CREATE_DOC, then of
-- UPDATE_DOC (files of JSON text). The database is opened before the clock
-- starts.
-- Usage: keep run scripts/bench/session_crud.lua COUNT CREATE_DOC UPDATE_DOC
local count = assert(tonumber(arg[1]), "usage: session_crud.lua COUNT CREATE_DOC UPDATE_DOC")

local function read(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("a")
  file:close()
  return text
end
local first, second = read(arg[2]), read(arg[3])

-- Wall-clock milliseconds, from keep.now() (ISO-8601 UTC with milliseconds):
-- os.clock() counts this process's CPU time, not the waits on the server.
-- os.time reads the fields as local time, which shifts every reading alike.
local function now_ms()
  local y, mo, d, h, mi, s, ms = keep.now():match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.(%d+)Z$")
  return os.time { year = y, month = mo, day = d, hour = h, min = mi, sec = s } * 1000 + tonumber(ms)
end

local function rate(phase)
  local start = now_ms()
  phase()
  return count * 1000 / math.max(1, now_ms() - start)
end

keep.sessions.list { page_size = 1 } -- connects and sets up the schema

local ids = {}
local create = rate(function()
  for i = 1, count do
    ids[i] = keep.sessions.create { title = "Well study " .. i, content = first }.id
  end
end)

math.randomseed(7)
for i = count, 2, -1 do
  local j = math.random(i)
  ids[i], ids[j] = ids[j], ids[i]
end

local get = rate(function()
  for i = 1, count do
    keep.sessions.get(ids[i])
  end
end)
local update = rate(function()
  for i = 1, count do
    keep.sessions.update(ids[i], { content = second })
  end
end)
print(string.format("%.1f %.1f %.1f", create, get, update))
