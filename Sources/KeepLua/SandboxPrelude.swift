/// The Lua code that builds sandbox environments (SPEC §2). The source of
/// truth is `Lua/sandbox_prelude.lua` (linted by luacheck); this copy is what
/// the binary carries, and a test keeps the two byte-for-byte equal.
///
/// It runs once per sandboxed state, with the full standard library, and
/// returns a factory of environments. What it keeps in locals (the real `load`,
/// `setmetatable`, `collectgarbage`) stays out of sandboxed code's reach: that
/// code has no `debug` library to read upvalues with.
enum SandboxPrelude {
    static let source = #"""
local read_module = ...
local type, error, tostring, select, pairs, ipairs = type, error, tostring, select, pairs, ipairs
local rawget, setmetatable, getmetatable = rawget, setmetatable, getmetatable
local load, collectgarbage = load, collectgarbage

-- getmetatable("") must not hand out the shared string metatable: its __index
-- is the real string library, shared by every environment of the state.
getmetatable("").__metatable = false
-- ("").dump(f) would reach the real string library through the metatable.
string.dump = nil

local BASE = {
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print",
  "rawequal", "rawget", "rawlen", "rawset", "select", "tonumber", "tostring",
  "type", "xpcall", "_VERSION",
}
local LIBRARIES = {
  string = { exclude = { dump = true } },  -- no binary chunks
  table = {}, math = {}, utf8 = {}, coroutine = {},
  os = { only = { time = true, clock = true, date = true } },
}
local GC_OPTIONS = { collect = true, count = true, step = true, isrunning = true }

local globals = _G

-- Finalizers run with hooks disabled (Lua 5.4 lgc.c), so a looping __gc could
-- not be stopped by the instruction budget: refuse them.
local function safe_setmetatable(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("sandbox: __gc metamethods are not allowed (finalizers run outside the budget)", 2)
  end
  return setmetatable(t, mt)
end

local function safe_collectgarbage(option, ...)
  option = option or "collect"
  if not GC_OPTIONS[option] then
    error("sandbox: collectgarbage('" .. tostring(option) ..
      "') is not allowed; allowed: collect, count, step, isrunning", 2)
  end
  return collectgarbage(option, ...)
end

local function copy_library(library, rule)
  local copy = {}
  for name, value in pairs(library) do
    local excluded = rule.exclude and rule.exclude[name]
    local included = rule.only == nil or rule.only[name]
    if included and not excluded then copy[name] = value end
  end
  return copy
end

return function(print_function)
  local env = {}
  for _, name in ipairs(BASE) do env[name] = globals[name] end
  if print_function then env.print = print_function end
  env.setmetatable = safe_setmetatable
  env.collectgarbage = safe_collectgarbage
  for name, rule in pairs(LIBRARIES) do env[name] = copy_library(globals[name], rule) end
  if globals.json then env.json = copy_library(globals.json, {}) end
  env._G = env

  -- load: text chunks only; the environment defaults to this sandbox.
  env.load = function(chunk, chunkname, mode, ...)
    if mode ~= nil and mode ~= "t" then
      error("sandbox: load accepts text chunks only (mode 't'), got mode '" .. tostring(mode) .. "'", 2)
    end
    if select("#", ...) == 0 then return load(chunk, chunkname, "t", env) end
    return load(chunk, chunkname, "t", (...))
  end

  -- require: .lua files below the script's root folder(s), loaded as text
  -- into this environment, each once.
  local loaded = {}
  env.require = function(name)
    if type(name) ~= "string" then
      error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
    end
    local value = loaded[name]
    if value ~= nil then return value end
    local source, chunkname = read_module(name)
    if not source then error(chunkname, 2) end
    local chunk, message = load(source, chunkname, "t", env)
    if not chunk then error(message, 2) end
    value = chunk(name, chunkname)
    if value == nil then value = true end
    loaded[name] = value
    return value
  end
  return env
end
"""#
}
