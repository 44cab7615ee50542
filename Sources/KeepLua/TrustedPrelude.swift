/// Lua run once in every trusted state: `loadfile`, `dofile` and `require`'s
/// Lua-file searcher compile through the budgeted `load` (`keep_load_buffer`),
/// like every other chunk: text only, charged to the budget, and checked for
/// the code Lua 5.4.4 miscompiles (the stock versions call `luaL_loadfilex`
/// directly, so a file could reach a crashing Lua bug that `load` refuses).
/// The source of truth is `Lua/trusted_prelude.lua` (linted by luacheck); a
/// test keeps this embedded copy byte-for-byte equal to it.
enum TrustedPrelude {
    static let source = #"""
local load, open, type, select, error, tostring = load, io.open, type, select, error, tostring
local stdin = io.stdin

local function read_chunk(name)
  local file, message
  if name == nil then file = stdin else file, message = open(name, "rb") end
  if not file then return nil, "cannot open " .. (message or tostring(name)) end
  local text = file:read("a")
  if name ~= nil then file:close() end
  if text == nil then return nil, "cannot read " .. tostring(name) end
  -- luaL_loadfilex skips a first line starting with '#' (a shebang).
  if text:sub(1, 1) == "#" then text = "--" .. text end
  return text
end

function loadfile(name, mode, ...)
  local text, message = read_chunk(name)
  if not text then return nil, message end
  local chunkname = name == nil and "=stdin" or "@" .. name
  if select("#", ...) > 0 then return load(text, chunkname, mode or "bt", (...)) end
  return load(text, chunkname, mode or "bt")
end

function dofile(name)
  local chunk, message = loadfile(name)
  if not chunk then error(message, 2) end
  return chunk()
end

if type(package) == "table" and type(package.searchers) == "table" then
  local searchpath = package.searchpath
  package.searchers[2] = function(name)
    local path, message = searchpath(name, package.path)
    if not path then return message end
    local chunk, failure = loadfile(path)
    if not chunk then
      error("error loading module '" .. name .. "' from file '" .. path .. "':\n\t" .. failure, 2)
    end
    return chunk, path
  end
end
"""#
}
