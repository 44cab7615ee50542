-- expect: limit
-- Budget escape (audit 1): a wrapped coroutine that trips, called under pcall.
local ok = pcall(coroutine.wrap(function() while true do end end))
return ok, "finished normally"
