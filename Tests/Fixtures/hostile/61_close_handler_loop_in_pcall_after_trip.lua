-- expect: limit
-- Unbounded code after a trip (audit 2): a to-be-closed variable of the main
-- chunk loops in its handler while the budget error unwinds through pcall.
pcall(function()
  local guard <close> = setmetatable({}, { __close = function() while true do end end })
  while true do end
end)
return "finished normally"
