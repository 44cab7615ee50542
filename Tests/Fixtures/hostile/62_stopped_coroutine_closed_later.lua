-- expect: limit
-- Unbounded code after a trip (audit 2): keep the stopped coroutine and try
-- every way of closing it.
local co = coroutine.create(function()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  while true do end
end)
pcall(coroutine.resume, co)
pcall(coroutine.close, co)
pcall(coroutine.resume, co)
return "finished normally"
