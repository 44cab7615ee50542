-- expect: limit
-- Unbounded code after a trip (audit 2): coroutine.wrap closes the failed
-- coroutine's to-be-closed variables itself.
local f = coroutine.wrap(function()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  while true do end
end)
pcall(f)
return "finished normally"
