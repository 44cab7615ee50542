/// The small test library of `keep policy test` (SPEC §4): `describe`, `it`
/// and `expect`, written in Lua and loaded into each test file's sandbox;
/// `it` registers tests for `PolicyTestRunner` to run one by one. The `policy`
/// table it returns is filled by `PolicyTestBindings`. The source of truth is
/// `Lua/policy_test_library.lua` (linted by luacheck); a test keeps this
/// embedded copy byte-for-byte equal to it.
enum PolicyTestLibrary {
    static let source = #"""
local tests, pattern = ...   -- the registered tests ({name =, body =}, in order); --run's pattern or nil
local env = {}
local stack = {}

local function name_of(title)
  local parts = {}
  for _, part in ipairs(stack) do parts[#parts + 1] = part end
  parts[#parts + 1] = title
  return table.concat(parts, " › ")
end

-- --run PATTERN: the full name contains it as plain text, or matches it as a Lua pattern.
local function selected(name)
  if pattern == nil or name:find(pattern, 1, true) then return true end
  local ok, found = pcall(string.find, name, pattern)
  return ok and found ~= nil
end

function env.describe(title, body)
  if type(title) ~= "string" or type(body) ~= "function" then
    error("describe expects a title and a function, got " .. type(title) .. " and " .. type(body), 2)
  end
  stack[#stack + 1] = title
  body()
  stack[#stack] = nil
end

-- Registers a test; the host runs each one afterwards as its own call.
function env.it(title, body)
  if type(title) ~= "string" or type(body) ~= "function" then
    error("it expects a title and a function, got " .. type(title) .. " and " .. type(body), 2)
  end
  local name = name_of(title)
  if selected(name) then tests[#tests + 1] = { name = name, body = body } end
end

local function show(value)
  if type(value) == "string" then return string.format("%q", value) end
  if type(value) ~= "table" then return tostring(value) end
  local ok, text = pcall(json.encode, value)
  return ok and text or tostring(value)
end

local function deep_equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

function env.expect(actual)
  local matchers = {}
  local function check(ok, message) if not ok then error(message, 3) end end
  function matchers.to_be(expected)
    check(actual == expected, "expected " .. show(expected) .. ", got " .. show(actual))
  end
  function matchers.to_equal(expected)
    check(deep_equal(actual, expected), "expected " .. show(expected) .. ", got " .. show(actual))
  end
  function matchers.to_be_nil()
    check(actual == nil, "expected nil, got " .. show(actual))
  end
  function matchers.to_be_truthy()
    check(actual, "expected a true value, got " .. show(actual))
  end
  function matchers.to_be_falsy()
    check(not actual, "expected a false value, got " .. show(actual))
  end
  function matchers.to_contain(part)
    check(type(actual) == "string" and actual:find(part, 1, true),
      "expected " .. show(actual) .. " to contain " .. show(part))
  end
  return matchers
end

-- policy.validate, policy.retry and policy.should_count are set by the host:
-- they call the folder's loaded policy set, as the store does.
env.policy = {}

return env
"""#
}
