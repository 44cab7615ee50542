-- expect: limit
-- Unbounded code after a trip (audit 2): the hook stops the coroutine, whose
-- hooks Lua leaves off; closing it would run its __close handler unbounded.
local co = coroutine.create(function()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  while true do end
end)
coroutine.resume(co)
coroutine.close(co)
return "finished normally"
