-- Creates COUNT small but realistic workbench sessions (one dashboard of a few
-- modules, each with its layout, settings and serialized state), stored in
-- canonical form as the workbench saves them (or as compact text with
-- "compact"): what `keep migrate` benchmarks and crash tests run over.
-- Every session has a MapView module, so the example migrations change them all.
-- Usage: keep run scripts/bench/small_sessions.lua COUNT [SEED] [compact]
local count, seed, compact = tonumber(arg[1] or 1000), tonumber(arg[2] or 7), arg[3] == "compact"
math.randomseed(seed)

local KINDS = { "WellLogViewer", "Histogram", "CrossPlot", "DataTable", "Notes" }
local WORDS = { "porosity", "depth", "gamma", "resistivity", "density", "Ærø", "井", "naïve" }

local function word()
  return WORDS[math.random(#WORDS)]
end

local function module(kind, n)
  return {
    id = string.format("%s-%04d", kind, n),
    kind = kind,
    title = word() .. " " .. word(),
    layout = { x = math.random(0, 11), y = math.random(0, 40), w = math.random(2, 12), h = math.random(2, 8) },
    settings = {
      colorScale = { min = 0, max = math.random(50, 300), palette = "viridis", reversed = false },
      filters = {},
      selected = json.null,
    },
    serializedState = json.encode({ zoom = math.random(1, 8) / 2, center = { math.random(), math.random() } }),
  }
end

for i = 1, count do
  local modules = { module("MapView", 1) }
  for m = 2, math.random(2, 4) do
    modules[m] = module(KINDS[math.random(#KINDS)], m)
  end
  local document = {
    version = 3,
    dashboards = { { id = "d1", name = word(), modules = modules } },
    metadata = { owner_team = word() },
  }
  keep.sessions.create { title = "Well study " .. i, content = compact and json.encode(document) or document }
end
print(string.format("created %d sessions", count))
