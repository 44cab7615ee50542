-- expect: limit
-- Unbounded code (audit 2): a suspended coroutine whose __close handler loops,
-- closed before any trip: the handler runs under the budget.
local co = coroutine.create(function()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  coroutine.yield()
end)
coroutine.resume(co)
coroutine.close(co)
return "finished normally"
