-- Times JSON decode and encode of one document: median milliseconds of RUNS
-- runs. Runs under Keep (its `json`) or the standalone lua5.4 (lua-cjson).
-- Usage: keep run scripts/bench/json.lua FILE [RUNS]
--        lua5.4 scripts/bench/json.lua FILE [RUNS]
local path, runs = arg[1], tonumber(arg[2] or 21)

local library = rawget(_G, "json")
if library == nil then library = require("cjson") end
local decode, encode = library.decode, library.encode

local file = assert(io.open(path, "rb"))
local text = file:read("a")
file:close()

local function median(f)
  local samples = {}
  for i = 1, runs do
    local start = os.clock()
    f()
    samples[i] = (os.clock() - start) * 1000
  end
  table.sort(samples)
  return samples[(runs + 1) // 2]
end

local value = decode(text)
local decode_ms = median(function() decode(text) end)
local encode_ms = median(function() encode(value) end)
print(string.format("%.3f %.3f %d", decode_ms, encode_ms, #text))
