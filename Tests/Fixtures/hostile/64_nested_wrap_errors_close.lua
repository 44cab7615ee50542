-- expect: error: coroutine.close nested more than
-- Crash (audit 3): the same nesting through coroutine.wrap's error path,
-- which closes the failed coroutine's variables itself.
local function nest(n)
  local co = coroutine.create(function()
    local guard <close> = setmetatable({}, { __close = function()
      if n > 0 then
        local ok, err = coroutine.close(nest(n - 1))
        if not ok then error(err, 0) end
      end
    end })
    coroutine.yield()
  end)
  coroutine.resume(co)
  return co
end
local outer = nest(200000)
local f = coroutine.wrap(function()
  local guard <close> = setmetatable({}, { __close = function()
    local ok, err = coroutine.close(outer)
    if not ok then error(err, 0) end
  end })
  error("fail")
end)
f()
