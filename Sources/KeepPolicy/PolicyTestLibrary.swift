/// The small test library of `keep policy test` (SPEC §4): `describe`, `it`,
/// `expect`, and `policy.validate` / `policy.retry` / `policy.should_count`,
/// which run the folder's policies the way Keep does. Written in Lua; loaded
/// into each test file's sandbox.
enum PolicyTestLibrary {
    static let source = #"""
local results = ...   -- { passed = 0, failed = 0, lines = {} } filled in by the tests
local env = {}
local stack = {}

local function name_of(title)
  local parts = {}
  for _, part in ipairs(stack) do parts[#parts + 1] = part end
  parts[#parts + 1] = title
  return table.concat(parts, " › ")
end

function env.describe(title, body)
  stack[#stack + 1] = title
  body()
  stack[#stack] = nil
end

function env.it(title, body)
  local ok, err = pcall(body)
  if ok then
    results.passed = results.passed + 1
    results.lines[#results.lines + 1] = "ok   " .. name_of(title)
  else
    results.failed = results.failed + 1
    results.lines[#results.lines + 1] = "FAIL " .. name_of(title) .. "\n     " .. tostring(err)
  end
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
    check(type(actual) == "string" and actual:find(part, 1, true), "expected " .. show(actual) .. " to contain " .. show(part))
  end
  return matchers
end

-- policy.* run the folder's files as Keep does.
env.policy = {}

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

--- Runs every rule; returns nil, or {code =, message =} as Keep would reject.
function env.policy.validate(doc)
  local rules = env.require("validation").rules
  local messages, code = {}, "invalid"
  local full = { kind = "session", op = "create", owner = "tester", title = "", content = "" }
  for k, v in pairs(doc) do full[k] = v end
  full.content_bytes = full.content_bytes or #full.content
  for _, name in ipairs(sorted_keys(rules)) do
    local result = rules[name](full, {})
    if type(result) == "string" then
      messages[#messages + 1] = result
    elseif type(result) == "table" and result.message then
      messages[#messages + 1] = result.message
      if result.code == "too_large" then code = "too_large" end
    elseif type(result) == "table" then
      for _, message in ipairs(result) do messages[#messages + 1] = message end
    end
  end
  if #messages == 0 then return nil end
  return { code = code, message = table.concat(messages, "; ") }
end

function env.policy.retry(kind, attempt, err)
  local schedule = env.require("retry")
  return (schedule[kind] or schedule.default)(attempt, err or "error")
end

function env.policy.should_count(log, now)
  return env.require("visits").should_count(log, now)
end

return env
"""#
}
