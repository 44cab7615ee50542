-- Writes a realistic workbench session document (dashboards of modules, each
-- with serialized state) of about the requested size, as compact JSON.
-- Usage: keep run scripts/bench/session_document.lua OUT [BYTES]
local out_path, target = arg[1], tonumber(arg[2] or 1572864 * 0.95)

math.randomseed(42)

local MODULES = { "WellLogViewer", "MapView", "Histogram", "CrossPlot", "DataTable", "Correlation", "Notes" }
local WORDS = { "porosity", "depth", "gamma", "resistivity", "density", "neutron", "sonic", "caliper",
  "Ærø", "São Paulo", "naïve", "∆t", "井", "📈", "\"quoted\"", "tab\there", "line\nbreak" }

local function word()
  return WORDS[math.random(#WORDS)]
end

local function curve(points)
  local values = {}
  for i = 1, points do
    values[i] = { depth = 1500 + i * 0.5, value = math.random() * 150, flag = i % 7 == 0 }
  end
  return values
end

local function module_state(kind, n)
  return {
    id = string.format("%s-%04d", kind, n),
    kind = kind,
    title = word() .. " " .. word(),
    layout = { x = math.random(0, 11), y = math.random(0, 40), w = math.random(2, 12), h = math.random(2, 8) },
    settings = {
      colorScale = { min = 0, max = math.random(50, 300), palette = "viridis", reversed = false },
      axes = { { name = word(), unit = "m", log = false }, { name = word(), unit = "API", log = true } },
      filters = {},
      selected = json.null,
    },
    -- Modules keep their own state as a serialized string, as the front end does.
    serializedState = json.encode({ curves = curve(20), zoom = math.random() * 4, notes = word() }),
    data = curve(30),
  }
end

local document = { version = 3, title = "Field study", dashboards = {}, metadata = { tags = { "a", "b" }, extra = {} } }
local size, n = 0, 0
while size < target do
  local dashboard = { id = "d" .. #document.dashboards + 1, name = word(), modules = {} }
  for _ = 1, 8 do
    n = n + 1
    dashboard.modules[#dashboard.modules + 1] = module_state(MODULES[math.random(#MODULES)], n)
  end
  document.dashboards[#document.dashboards + 1] = dashboard
  size = #json.encode(document)
end

local file = assert(io.open(out_path, "wb"))
file:write(json.encode(document))
file:close()
print(string.format("%s: %d bytes, %d modules", out_path, size, n))
