-- expect: error: coroutine.close nested more than
-- Crash (audit 3, Lua 5.4.4 bug): __close handlers that each close another
-- coroutine nest lua_resetthread on the C stack without any limit.
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
local ok, err = coroutine.close(nest(200000))
error(err, 0)
