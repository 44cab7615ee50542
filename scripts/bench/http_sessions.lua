-- Creates COUNT sessions whose content is one workbench document of about
-- BYTES bytes (compact JSON: dashboards of modules with serialized state,
-- text with quotes, tabs, line breaks and non-ASCII characters, as the
-- front end saves them), titled "TITLE 1", "TITLE 2", …; writes BODY_OUT, the
-- JSON body of a PUT that sets that content, and prints the content's size.
-- What the HTTP benchmarks (scripts/bench.sh http, http-large) serve.
-- Usage: keep run scripts/bench/http_sessions.lua COUNT BYTES TITLE BODY_OUT
local count, target, title, body_path = tonumber(arg[1]), tonumber(arg[2]), arg[3], arg[4]
assert(count and target and title and body_path, "usage: http_sessions.lua COUNT BYTES TITLE BODY_OUT")
math.randomseed(16)

local KINDS = { "WellLogViewer", "MapView", "Histogram", "CrossPlot", "DataTable", "Notes" }
local WORDS = { "porosity", "depth", "gamma", "resistivity", "density", "Ærø", "井", "naïve", "\"quoted\"",
  "tab\there", "line\nbreak" }

local function word()
  return WORDS[math.random(#WORDS)]
end

local function module(n)
  local kind = KINDS[math.random(#KINDS)]
  local points = {}
  for i = 1, 4 do
    points[i] = { depth = 1500 + i * 0.5, value = math.random(0, 15000) / 100 }
  end
  return {
    id = string.format("%s-%04d", kind, n),
    kind = kind,
    title = word() .. " " .. word(),
    layout = { x = math.random(0, 11), y = math.random(0, 40), w = math.random(2, 12), h = math.random(2, 8) },
    settings = { colorScale = { min = 0, max = math.random(50, 300), palette = "viridis" }, selected = json.null },
    serializedState = json.encode({ zoom = math.random(1, 8) / 2, points = points, notes = word() }),
  }
end

-- Modules are added until the document reaches BYTES; encoding only every
-- so often keeps a large one quick to make.
local document = { version = 3, dashboards = { { id = "d1", name = "Field review", modules = {} } } }
local modules, text, n = document.dashboards[1].modules, json.encode(document), 0
while #text < target do
  local estimate = math.max(1, (target - #text) // 700)
  for _ = 1, estimate do
    n = n + 1
    modules[n] = module(n)
  end
  text = json.encode(document)
end

for i = 1, count do
  keep.sessions.create { title = title .. " " .. i, content = text }
end
local file = assert(io.open(body_path, "wb"))
file:write(json.encode { content = text })
file:close()
print(#text)
